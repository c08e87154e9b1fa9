//! The domain model every other part speaks: billing periods, the lake's datasets, partitions
//! and the provenance of their data, and exact decimal text (money never passes through a
//! float).

mod dataset;
pub mod decimal;
mod partition;
mod period;

pub use dataset::{
    Dataset, PARTITION_BILLING_ACCOUNT, PARTITION_BILLING_PERIOD, PARTITION_COST_TYPE,
    PARTITION_ENROLLMENT,
};
pub use partition::{PARTITION_FILE, PartitionKey, Provenance};
pub use period::{PeriodId, PeriodSelection};
