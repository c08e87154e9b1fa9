//! costlake: an Azure EA enrollment's billing data in a local, queryable Parquet lake.
//!
//! The layers, from the ground up (see DESIGN.md): `schema`, `decimal` and `api`; `decode`,
//! `lake` and `emulator`; `sync` and `catalog`; `query` and `output`; `repl`; and the binary in
//! `main.rs`.

pub mod api;
pub mod catalog;
pub mod config;
pub mod decimal;
pub mod decode;
pub mod demo;
pub mod emulator;
pub mod ingest;
pub mod lake;
pub mod output;
pub mod query;
pub mod repl;
pub mod schema;
pub mod sync;
pub mod verify;
