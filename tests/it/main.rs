//! End-to-end tests: one binary, one module per capability.

mod common;
mod emulator;
mod query;
mod readme;
mod saved_queries;
mod sync;
mod verify;
