//! End-to-end tests: one binary, one module per capability.

mod common;
mod emulator;
mod query;
mod readme;
mod sync;
mod verify;
