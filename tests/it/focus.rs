//! The `focus` view against FOCUS itself: the FinOps Foundation's validator (`focus-validator`,
//! FOCUS 1.2 rules) on the view of a lake from each source of one synthetic enrollment: the EA
//! API, and Cost Management exports (native FOCUS months beside actual-cost months). Every rule
//! the validator applies passes, except where its check contradicts the specification's own
//! text; those few are listed here with that text.

use std::path::Path;

use costlake_emulator::generator::OFFERS;

use crate::common::{config, ingested, synced_with};
use crate::export_files::sql;
use crate::query::{costlake, stdout};
use crate::tools::focus_validator;

const ASCII: &str = "the validator's StringHandling check rejects every character outside ASCII, \
    but FOCUS 1.2 says \"String values MUST be valid Unicode strings\" (StringHandling-A-001-M) and \
    \"String values MUST maintain the original casing, spacing, and other relevant consistency \
    factors as specified by providers\" (StringHandling-A-003-M); Azure Marketplace names offers \
    with `™`";

const INVOICE: &str = "InvoiceId-C-004-C (\"InvoiceId MUST be null when the charge is not \
    associated either with an invoice or with a pre-generated provisional invoice\") and \
    InvoiceId-C-005-C (\"InvoiceId MUST NOT be null when the charge is associated with either an \
    issued invoice or a pre-generated provisional invoice\") have empty conditions in the \
    validator's model, so it asks every row to be null and not null at once";

/// The rules the validator may fail, each with the specification text its check contradicts.
const SPEC_CONFLICTS: &[(&str, &str)] = &[
    ("ServiceName-C-000-M", ASCII),
    ("ServiceName-C-002-M", ASCII),
    ("ChargeDescription-C-000-M", ASCII),
    ("ChargeDescription-C-002-M", ASCII),
    ("InvoiceId-C-000-O", INVOICE),
    ("InvoiceId-C-003-C", INVOICE),
    ("InvoiceId-C-004-C", INVOICE),
    ("InvoiceId-C-005-C", INVOICE),
];

/// The rules the pinned validator applies to a CostAndUsage file without applicability
/// criteria: fewer evaluated would mean some were skipped, not passed.
const APPLICABLE_RULES: usize = 137;

/// Validates `SELECT * FROM focus` of `lake` and checks that every failure is a listed
/// conflict, and that the non-ASCII names it rejects are the provider's own.
pub(crate) fn assert_focus_conforms(lake: &Path, what: &str) {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("focus.parquet");
    stdout(&costlake(
        &[
            "sql",
            "--format",
            "parquet",
            "--output",
            &file.display().to_string(),
            "SELECT * FROM focus",
        ],
        lake,
    ));
    let verdict = focus_validator(&file);
    assert!(
        verdict.passed as usize + verdict.failed.len() >= APPLICABLE_RULES,
        "{what}: only {} rules passed and {} failed ({} skipped):\n{}",
        verdict.passed,
        verdict.failed.len(),
        verdict.skipped,
        verdict.output
    );
    for (rule, line) in &verdict.failed {
        assert!(
            SPEC_CONFLICTS.iter().any(|(r, _)| r == rule),
            "{what}: FOCUS rule {rule} fails:\n{line}\n\n{}",
            verdict.output
        );
    }
    // List, contracted and billed cost in that order on every row, and the negotiated meters
    // billed below their contracted price.
    let order = sql(
        lake,
        r#"SELECT count(*) FILTER (WHERE "ListCost" < "ContractedCost" OR "ContractedCost" < "BilledCost") AS disorder,
                  count(*) FILTER (WHERE "ContractedCost" > "BilledCost") AS negotiated
           FROM focus"#,
    );
    assert_eq!(order[1][0], "0", "{what}: {order:?}");
    assert_ne!(order[1][1], "0", "{what}: {order:?}");
    // The names outside ASCII are Marketplace offers, as their publishers spell them.
    for row in &sql(
        lake,
        r#"SELECT DISTINCT "ServiceName", "ChargeDescription" FROM focus"#,
    )[1..]
    {
        for (cell, exact) in [(&row[0], true), (&row[1], false)] {
            if !cell.is_ascii() {
                assert!(
                    OFFERS.iter().any(|o| if exact {
                        cell == o.offer
                    } else {
                        cell.starts_with(o.offer)
                    }),
                    "{what}: {cell:?} is not a Marketplace offer's own name"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_focus_view_of_an_ea_api_lake_passes_the_focus_validator() {
    let (_emu, lake) = synced_with(config(2000)).await;
    assert_focus_conforms(lake.path(), "EA API lake");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_focus_view_of_an_exports_lake_passes_the_focus_validator() {
    let (_emu, work) = ingested(2000).await;
    let lake = work.path().join("lake");
    // Both export branches of the view: native FOCUS months and actual-cost months.
    let sources = sql(
        &lake,
        r#"SELECT DISTINCT "x_SourceDataset" FROM focus ORDER BY 1"#,
    );
    assert_eq!(sources[1..], [vec!["cost_details"], vec!["focus_costs"]]);
    assert_focus_conforms(&lake, "exports lake");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_focus_view_of_amortized_commitments_passes_the_focus_validator() {
    let work = tempfile::tempdir().unwrap();
    let e = crate::amortization::enrollment();
    let lake = crate::amortization::commitments_lake(&e, work.path()).await;
    let statuses = sql(
        &lake,
        r#"SELECT DISTINCT "CommitmentDiscountStatus" FROM focus WHERE "CommitmentDiscountStatus" IS NOT NULL ORDER BY 1"#,
    );
    assert_eq!(statuses[1..], [vec!["Unused"], vec!["Used"]]);
    assert_focus_conforms(&lake, "exports lake with reservations");
}
