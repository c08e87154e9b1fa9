//! `costlake verify`: reconciles each synced period exactly: the sum of usage cost against the
//! balance summary's totals, marketplace charges against the billed marketplace total, and the
//! rows in the lake against the manifest; and counts usage rows priced off the price sheet.
//! The charges come from the EA API's usage and marketplace tables where the lake has them for
//! the period, else from actual cost details (the Cost Management API or exports: Marketplace
//! rows by their `PublisherType`) where the period has a balance summary to check them against
//! (exports bring none). Every partition an export run filled is also checked against the
//! row counts of the run's own manifest (`verify_exports`).

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Decimal128Type;

use super::catalog::BLOCK_SIZE_FUNCTION;
use super::{QueryError, Session};
use crate::model::decimal::format_plain;
use crate::model::{Dataset, PARTITION_BILLING_PERIOD, PARTITION_ENROLLMENT};
use crate::schema::{Col, DECIMAL_SCALE};

/// The outcome of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodCheck {
    pub enrollment: String,
    pub period: String,
    /// The dataset whose charges were reconciled: `usage_details` (the EA API) or
    /// `cost_details` (the Cost Management API or actual-cost exports); none for a period
    /// with a balance summary and no charges.
    pub source: Option<&'static str>,
    pub usage_rows: u64,
    pub manifest_rows: Option<u64>,
    /// Amounts at the lake's decimal scale.
    pub usage_cost: i128,
    pub total_usage: Option<i128>,
    pub utilized_plus_overage: Option<i128>,
    pub marketplace_cost: i128,
    pub marketplace_billed: Option<i128>,
    /// Usage rows billed at a rate other than the price sheet's (per unit-of-measure block):
    /// reported, not a failure, since negotiated rates differ legitimately.
    pub rate_mismatches: u64,
    /// What does not reconcile, one sentence each.
    pub problems: Vec<String>,
}

impl PeriodCheck {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn money(v: i128) -> String {
    format_plain(v, DECIMAL_SCALE as u32)
}

/// Checks every period that has a balance summary or usage. `tolerance` is the largest
/// difference accepted, at the lake's scale (0: exact).
pub async fn verify(session: &Session, tolerance: i128) -> Result<Vec<PeriodCheck>, QueryError> {
    let (u, b, m) = (
        Dataset::UsageDetails,
        Dataset::BalanceSummary,
        Dataset::MarketplaceCharges,
    );
    let (e, p) = (PARTITION_ENROLLMENT, PARTITION_BILLING_PERIOD);
    let cd = Dataset::CostDetails;
    let sql = format!(
        "WITH ue AS (SELECT {e}, {p}, count(*) AS n, sum({cost}) AS cost FROM {usage} GROUP BY {e}, {p}), \
              c AS (SELECT {account} AS {e}, {p}, count(*) AS n, \
                    sum(CASE WHEN {publisher} = 'Marketplace' THEN 0 ELSE {cd_cost} END) AS cost, \
                    sum(CASE WHEN {publisher} = 'Marketplace' THEN {cd_cost} ELSE 0 END) AS mcost \
                    FROM {cost_details} WHERE {cost_type} = 'actual' GROUP BY {account}, {p}), \
              conly AS (SELECT c.* FROM c JOIN {balance} bc ON bc.{e} = c.{e} AND bc.{p} = c.{p} \
                        LEFT JOIN ue ON ue.{e} = c.{e} AND ue.{p} = c.{p} WHERE ue.{e} IS NULL), \
              u AS (SELECT {e}, {p}, n, cost, false AS from_cost_details FROM ue \
                    UNION ALL SELECT {e}, {p}, n, cost, true FROM conly), \
              m AS (SELECT {e}, {p}, sum({ext}) AS cost FROM {market} GROUP BY {e}, {p} \
                    UNION ALL SELECT {e}, {p}, mcost FROM conly), \
              r AS (SELECT x.{e}, x.{p}, count(*) AS n FROM {usage} x JOIN {sheet} s \
                    ON s.{e} = x.{e} AND s.{p} = x.{p} AND s.{sheet_meter} = x.{meter} \
                    WHERE x.{rate} * {block}(s.{unit}) <> s.{price} GROUP BY x.{e}, x.{p}), \
              keys AS (SELECT {e}, {p} FROM u UNION SELECT {e}, {p} FROM {balance}) \
         SELECT k.{e}, k.{p}, u.n, u.cost, b.{total}, b.{utilized} + b.{overage}, m.cost, b.{billed}, r.n, \
                u.from_cost_details \
         FROM keys k \
         LEFT JOIN u ON u.{e} = k.{e} AND u.{p} = k.{p} \
         LEFT JOIN {balance} b ON b.{e} = k.{e} AND b.{p} = k.{p} \
         LEFT JOIN m ON m.{e} = k.{e} AND m.{p} = k.{p} \
         LEFT JOIN r ON r.{e} = k.{e} AND r.{p} = k.{p} \
         ORDER BY k.{e}, k.{p}",
        sheet = Dataset::PriceSheet.name(),
        sheet_meter = Dataset::PriceSheet.column(Col::MeterIdPriceSheet),
        meter = u.column(Col::MeterId),
        rate = u.column(Col::ResourceRate),
        block = BLOCK_SIZE_FUNCTION,
        unit = Dataset::PriceSheet.column(Col::UnitOfMeasure),
        price = Dataset::PriceSheet.column(Col::UnitPrice),
        cost = u.column(Col::Cost),
        usage = u.name(),
        ext = m.column(Col::ExtendedCost),
        market = m.name(),
        balance = b.name(),
        total = b.column(Col::TotalUsage),
        utilized = b.column(Col::Utilized),
        overage = b.column(Col::TotalOverage),
        billed = b.column(Col::AzureMarketplaceServiceCharges),
        cost_details = cd.name(),
        account = crate::model::PARTITION_BILLING_ACCOUNT,
        cost_type = crate::model::PARTITION_COST_TYPE,
        publisher = cd.column(Col::PublisherType),
        cd_cost = cd.column(Col::Cost),
    );
    let batches = session.ctx.sql(&sql).await?.collect().await?;
    let manifest = session.lake.manifest().await?;
    // Rows per (source, account, period): usage details, or actual cost details.
    let manifest_rows: BTreeMap<(bool, String, String), u64> = manifest
        .of(u)
        .map(|entry| (false, entry))
        .chain(
            manifest
                .of(cd)
                .filter(|entry| entry.cost_type.as_deref() == Some("actual"))
                .map(|entry| (true, entry)),
        )
        .filter_map(|(from_cost_details, entry)| {
            Some((
                (
                    from_cost_details,
                    entry.account.clone(),
                    entry.billing_period.clone()?,
                ),
                entry.rows,
            ))
        })
        .collect();
    let mut out = Vec::new();
    for batch in &batches {
        let text = |c: usize, r: usize| -> Result<String, QueryError> {
            let col = arrow::compute::cast(batch.column(c), &arrow::datatypes::DataType::Utf8)
                .map_err(|e| QueryError::Io(e.to_string()))?;
            Ok(col.as_string::<i32>().value(r).to_string())
        };
        let dec = |c: usize, r: usize| {
            let a = batch.column(c).as_primitive::<Decimal128Type>();
            a.is_valid(r).then(|| a.value(r))
        };
        for r in 0..batch.num_rows() {
            let count = |c: usize| {
                let a = batch
                    .column(c)
                    .as_primitive::<arrow::datatypes::Int64Type>();
                if a.is_valid(r) { a.value(r) as u64 } else { 0 }
            };
            let from_cost_details = {
                let a = batch.column(9).as_boolean();
                a.is_valid(r) && a.value(r)
            };
            let mut check = PeriodCheck {
                enrollment: text(0, r)?,
                period: text(1, r)?,
                source: match (batch.column(2).is_valid(r), from_cost_details) {
                    (false, _) => None,
                    (true, false) => Some(Dataset::UsageDetails.name()),
                    (true, true) => Some(Dataset::CostDetails.name()),
                },
                usage_rows: count(2),
                manifest_rows: None,
                usage_cost: dec(3, r).unwrap_or(0),
                total_usage: dec(4, r),
                utilized_plus_overage: dec(5, r),
                marketplace_cost: dec(6, r).unwrap_or(0),
                marketplace_billed: dec(7, r),
                rate_mismatches: count(8),
                problems: Vec::new(),
            };
            check.manifest_rows = manifest_rows
                .get(&(
                    from_cost_details,
                    check.enrollment.clone(),
                    check.period.clone(),
                ))
                .copied();
            let mut compare = |what: &str, lake: i128, billed: Option<i128>| match billed {
                None => check
                    .problems
                    .push(format!("no balance summary to compare {what} with")),
                Some(billed) if (lake - billed).abs() > tolerance => check.problems.push(format!(
                    "{what} {} differs from the balance summary's {} by {}",
                    money(lake),
                    money(billed),
                    money(lake - billed)
                )),
                Some(_) => {}
            };
            compare("usage cost", check.usage_cost, check.total_usage);
            compare("usage cost", check.usage_cost, check.utilized_plus_overage);
            compare(
                "marketplace cost",
                check.marketplace_cost,
                check.marketplace_billed,
            );
            match check.manifest_rows {
                Some(rows) if rows != check.usage_rows => check.problems.push(format!(
                    "{} usage rows in the lake, {rows} in the manifest",
                    check.usage_rows
                )),
                None if check.usage_rows > 0 => check
                    .problems
                    .push("usage rows that the manifest does not record".into()),
                _ => {}
            }
            check.problems.dedup();
            out.push(check);
        }
    }
    Ok(out)
}

/// The checks as an aligned table, one line per period.
pub fn render(checks: &[PeriodCheck]) -> String {
    let (header, rows) = period_rows(checks);
    text_table(&header, rows)
}

/// The checks' table: its header, and a line per period.
pub fn period_rows(checks: &[PeriodCheck]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "enrollment",
        "period",
        "source",
        "usage rows",
        "manifest rows",
        "usage cost",
        "billed usage",
        "marketplace",
        "billed marketplace",
        "rate mismatches",
        "status",
    ];
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                c.enrollment.clone(),
                c.period.clone(),
                c.source.unwrap_or("-").to_string(),
                c.usage_rows.to_string(),
                c.manifest_rows.map_or("-".into(), |r| r.to_string()),
                money(c.usage_cost),
                c.total_usage.map_or("-".into(), money),
                money(c.marketplace_cost),
                c.marketplace_billed.map_or("-".into(), money),
                c.rate_mismatches.to_string(),
                status(&c.problems),
            ]
        })
        .collect();
    (header, rows)
}

/// An export partition checked against the counts of the run it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCheck {
    /// The partition's folder: dataset, billing account, cost type and period.
    pub partition: String,
    pub lake_rows: u64,
    pub manifest_rows: u64,
    /// The run manifest's `dataRowCount`, where it gives one (manifests of before 2024-04-01
    /// do not).
    pub export_rows: Option<u64>,
    pub run_id: String,
    pub problems: Vec<String>,
}

impl ExportCheck {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks every partition that an export run filled: the rows in its file against the
/// lake's manifest and the run's own manifest.
pub async fn verify_exports(session: &Session) -> Result<Vec<ExportCheck>, QueryError> {
    let manifest = session.lake.manifest().await?;
    let mut lake_rows: BTreeMap<String, u64> = BTreeMap::new();
    for dataset in Dataset::EXPORTS {
        if manifest.of(dataset).next().is_none() {
            continue;
        }
        let columns = dataset.partition_columns();
        let listed = columns.join(", ");
        let sql = format!(
            "SELECT {listed}, count(*) FROM {} GROUP BY {listed}",
            dataset.name()
        );
        for batch in session.ctx.sql(&sql).await?.collect().await? {
            let counts = batch
                .column(columns.len())
                .as_primitive::<arrow::datatypes::Int64Type>();
            let values: Vec<_> = (0..columns.len())
                .map(|c| arrow::compute::cast(batch.column(c), &arrow::datatypes::DataType::Utf8))
                .collect::<Result<_, _>>()
                .map_err(|e| QueryError::Io(e.to_string()))?;
            for r in 0..batch.num_rows() {
                let mut dir = dataset.name().to_string();
                for (column, value) in columns.iter().zip(&values) {
                    dir.push_str(&format!("/{column}={}", value.as_string::<i32>().value(r)));
                }
                lake_rows.insert(dir, counts.value(r) as u64);
            }
        }
    }
    let mut out = Vec::new();
    for (dir, entry) in &manifest.partitions {
        let crate::model::Provenance::Export {
            run_id, data_rows, ..
        } = &entry.provenance
        else {
            continue;
        };
        let mut check = ExportCheck {
            partition: dir.clone(),
            lake_rows: lake_rows.get(dir).copied().unwrap_or(0),
            manifest_rows: entry.rows,
            export_rows: *data_rows,
            run_id: run_id.clone(),
            problems: Vec::new(),
        };
        if check.lake_rows != check.manifest_rows {
            check.problems.push(format!(
                "{} rows in the lake, {} in its manifest",
                check.lake_rows, check.manifest_rows
            ));
        }
        if let Some(n) = check.export_rows.filter(|&n| n != check.lake_rows) {
            check.problems.push(format!(
                "{} rows in the lake, {n} in the manifest of run {run_id}",
                check.lake_rows
            ));
        }
        out.push(check);
    }
    Ok(out)
}

/// The export checks as a text table.
pub fn render_exports(checks: &[ExportCheck]) -> String {
    let (header, rows) = export_rows(checks);
    text_table(&header, rows)
}

/// The export checks' table: its header, and a line per partition.
pub fn export_rows(checks: &[ExportCheck]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "export partition",
        "rows",
        "manifest rows",
        "export rows",
        "run",
        "status",
    ];
    let rows = checks
        .iter()
        .map(|c| {
            vec![
                c.partition.clone(),
                c.lake_rows.to_string(),
                c.manifest_rows.to_string(),
                c.export_rows.map_or("-".into(), |r| r.to_string()),
                c.run_id.clone(),
                status(&c.problems),
            ]
        })
        .collect();
    (header, rows)
}

/// `ok`, or what does not match.
fn status(problems: &[String]) -> String {
    if problems.is_empty() {
        "ok".into()
    } else {
        format!("MISMATCH: {}", problems.join("; "))
    }
}

/// Columns padded to their widest cell, two spaces apart.
fn text_table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r));
    }
    out
}
