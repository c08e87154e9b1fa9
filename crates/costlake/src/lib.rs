//! costlake: an Azure enterprise's billing data in a queryable Parquet lake, with money as
//! exact decimals.
//!
//! The layers, from the ground up (`docs/architecture.md` walks through them):
//! - [`model`]: billing periods, datasets, partitions and their provenance, exact decimal text;
//! - [`schema`]: the one table of truth for every dataset's columns;
//! - [`memory`]: the one memory budget every unit of a run takes its buffers from;
//! - [`decode`]: JSON rows and CSV/Parquet cells into Arrow batches, in parallel;
//! - [`http`]: the one HTTP client, its credentials and its one retry policy;
//! - [`lake`]: where the lake lives, partition files, and the manifest's one publish path;
//! - [`source`]: the sources as one abstraction, with the EA Reporting API, the Cost Management
//!   APIs and Cost Management exports as its implementations;
//! - [`engine`]: the lake as DataFusion tables and views, saved queries, the execute path,
//!   `verify`;
//! - [`output`]: result formats and charts;
//! - [`report`]: the month-end report, saved queries' results as one HTML page.
//!
//! The library never prints: it returns reports and writes results where it is told. The
//! `costlake` command and the emulator of the Azure APIs are separate crates that use it;
//! nothing here depends on the emulator.

pub mod decode;
pub mod engine;
pub mod http;
pub mod lake;
pub mod memory;
pub mod model;
pub mod output;
pub mod report;
pub mod schema;
pub mod source;
