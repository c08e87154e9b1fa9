//! End-to-end tests: one binary, one module per capability.

mod amortization;
mod analyses;
mod architecture;
mod changes;
mod command_line_tool;
mod common;
mod cost_management;
mod demo;
mod docs;
mod emulator;
mod export_files;
mod focus;
mod hostile;
mod ingest;
mod interop;
mod legacy;
mod memory;
mod object_store;
mod query;
mod reservations;
mod saved_queries;
mod sync;
mod tools;
mod verify;
mod writers;
