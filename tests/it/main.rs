//! End-to-end tests: one binary, one module per capability.

mod architecture;
mod common;
mod demo;
mod docs;
mod emulator;
mod ingest;
mod interop;
mod object_store;
mod query;
mod saved_queries;
mod sync;
mod tools;
mod verify;
