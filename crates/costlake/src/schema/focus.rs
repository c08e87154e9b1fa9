//! The `focus` view: every cost in FinOps FOCUS 1.2 columns, from whichever source a billing
//! account and period has, and from one source only: native FOCUS exports (`focus_costs`),
//! else actual-cost exports (`cost_details`, with the hours reservations and savings plans
//! covered or left unused taken from the amortized-cost export where there is one), else the
//! EA API's usage details and marketplace charges. Each column says how it is computed from
//! each source and why (`columns`); the view's SQL and the mapping table in `docs/focus.md`
//! are both generated from that one table.

mod columns;

pub use columns::FOCUS_COLUMNS;

use crate::schema::{DECIMAL_PRECISION, DECIMAL_SCALE, service_categories};
use columns::{DEC, TS};

/// The view's name.
pub const FOCUS_VIEW: &str = "focus";

/// One column of the view.
pub struct FocusColumn {
    pub name: &'static str,
    /// SQL over usage details (`u`), the period's unambiguous sheet prices (`s`) and the
    /// period's currency (`b`).
    pub usage: &'static str,
    /// SQL over marketplace charges (`m`) and the period's currency (`b`).
    pub marketplace: &'static str,
    /// SQL over actual-cost export rows (`c`).
    pub exported: &'static str,
    /// SQL over native FOCUS export rows (`f`).
    pub native: &'static str,
    pub why: &'static str,
}

fn expand(template: &str, alias: &str) -> String {
    let dec = format!("DECIMAL({DECIMAL_PRECISION}, {DECIMAL_SCALE})");
    let ts = "Timestamp(Microsecond, Some(\"UTC\"))";
    let period_start =
        format!("arrow_cast(to_date(concat({alias}.billing_period, '01'), '%Y%m%d'), '{ts}')");
    let unit_name =
        format!("regexp_replace({alias}.unit_of_measure, '^[0-9][0-9,.]*\\s*/?\\s*', '')");
    let meter_category = format!("{alias}.meter_category");
    let (category, subcategory) = service_categories::case_sql(&meter_category);
    template
        .replace("{period_start}", &period_start)
        .replace("{unit_name}", &unit_name)
        .replace("{service_category}", &category)
        .replace("{service_subcategory}", &subcategory)
        .replace(DEC, &dec)
        .replace(TS, ts)
}

/// `CREATE VIEW focus AS …`: native FOCUS export rows; actual-cost export rows of the billing
/// accounts and periods that have no native FOCUS, and where they have amortized cost too,
/// its commitment rows (hours covered and unused, BilledCost 0) in place of the actual rows of
/// covered hours (cost 0); and usage details (with the period's unambiguous price-sheet prices
/// and currency) and marketplace charges of those that have neither. A period is answered by
/// one source, and a commitment by one row per hour, so no cost is counted twice.
pub fn view_sql() -> String {
    let select = |side: fn(&FocusColumn) -> &'static str, alias: &str| -> String {
        FOCUS_COLUMNS
            .iter()
            .map(|c| format!("    {} AS \"{}\"", expand(side(c), alias), c.name))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    // A meter the sheet lists at two prices (say, two offers) gets none: a join that matched
    // both would count its usage twice.
    let sheet = "SELECT enrollment, billing_period, meter_id, max(unit_price) AS unit_price, max(unit_of_measure) AS unit_of_measure \
                 FROM price_sheet WHERE meter_id IS NOT NULL \
                 GROUP BY enrollment, billing_period, meter_id \
                 HAVING count(DISTINCT unit_price) = 1 AND count(DISTINCT unit_of_measure) = 1";
    let currency = "SELECT enrollment, billing_period, max(currency_code) AS currency_code \
                    FROM balance_summary GROUP BY enrollment, billing_period";
    let native = "SELECT DISTINCT billing_account, billing_period FROM focus_costs";
    let held = |cost_type: &str| {
        format!(
            "SELECT DISTINCT billing_account, billing_period FROM cost_details WHERE cost_type = '{cost_type}'"
        )
    };
    let covered = format!(
        "SELECT billing_account, billing_period FROM focus_costs UNION {}",
        held("actual")
    );
    // Commitment rows: purchases and refunds, hours covered, and (amortized only) unused.
    let commitment = "c.pricing_model IN ('Reservation', 'SavingsPlan')";
    let from_amortized = format!(
        "{commitment} AND c.charge_type IN ('Usage', 'UnusedReservation', 'UnusedSavingsPlan')"
    );
    // An unused commitment's hours were not consumed: no list or contracted price applies,
    // and their cost is what the commitment cost.
    let amortized = |c: &FocusColumn| match c.name {
        "BilledCost" => "CAST(0 AS {dec})",
        "EffectiveCost" => "c.cost_in_billing_currency",
        "ListCost" | "ContractedCost" => {
            "CASE WHEN c.charge_type LIKE 'Unused%' THEN c.cost_in_billing_currency ELSE coalesce(CAST(c.quantity * c.unit_price AS {dec}), c.cost_in_billing_currency) END"
        }
        _ => c.exported,
    };
    format!(
        "CREATE VIEW {FOCUS_VIEW} AS\nSELECT\n{}\nFROM focus_costs f\n\
         UNION ALL\nSELECT\n{}\nFROM cost_details c\n\
         LEFT JOIN ({native}) nf ON nf.billing_account = c.billing_account AND nf.billing_period = c.billing_period\n\
         LEFT JOIN ({amortized_held}) am ON am.billing_account = c.billing_account AND am.billing_period = c.billing_period\n\
         WHERE c.cost_type = 'actual' AND nf.billing_account IS NULL\n\
           AND NOT (am.billing_account IS NOT NULL AND {commitment} AND c.charge_type = 'Usage' AND c.cost_in_billing_currency = 0)\n\
         UNION ALL\nSELECT\n{}\nFROM cost_details c\n\
         JOIN ({actual_held}) ac ON ac.billing_account = c.billing_account AND ac.billing_period = c.billing_period\n\
         LEFT JOIN ({native}) nf ON nf.billing_account = c.billing_account AND nf.billing_period = c.billing_period\n\
         WHERE c.cost_type = 'amortized' AND nf.billing_account IS NULL AND {from_amortized}\n\
         UNION ALL\nSELECT\n{}\nFROM usage_details u\n\
         LEFT JOIN ({sheet}) s ON s.enrollment = u.enrollment AND s.billing_period = u.billing_period AND s.meter_id = u.meter_id\n\
         LEFT JOIN ({currency}) b ON b.enrollment = u.enrollment AND b.billing_period = u.billing_period\n\
         LEFT JOIN (SELECT DISTINCT * FROM ({covered})) x ON x.billing_account = u.enrollment AND x.billing_period = u.billing_period\n\
         WHERE x.billing_account IS NULL\n\
         UNION ALL\nSELECT\n{}\nFROM marketplace_charges m\n\
         LEFT JOIN ({currency}) b ON b.enrollment = m.enrollment AND b.billing_period = m.billing_period\n\
         LEFT JOIN (SELECT DISTINCT * FROM ({covered})) x ON x.billing_account = m.enrollment AND x.billing_period = m.billing_period\n\
         WHERE x.billing_account IS NULL",
        select(|c| c.native, "f"),
        select(|c| c.exported, "c"),
        select(amortized, "c"),
        select(|c| c.usage, "u"),
        select(|c| c.marketplace, "m"),
        amortized_held = held("amortized"),
        actual_held = held("actual"),
    )
}

/// The mapping table of `docs/focus.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "| FOCUS column | from `usage_details` | from `marketplace_charges` | from `cost_details` (actual) | from `focus_costs` | why |\n|---|---|---|---|---|---|\n",
    );
    let shown = |sql: &str| -> String {
        let text = sql
            .replace("{dec}", "decimal")
            .replace("arrow_cast(", "(")
            .replace(", '{ts}')", ")")
            .replace("{period_start}", "start of billing_period")
            .replace("{unit_name}", "unit name of unit_of_measure")
            .replace("{service_category}", "category of meter_category")
            .replace("{service_subcategory}", "subcategory of meter_category");
        format!("`{}`", text.replace('|', "\\|"))
    };
    for c in FOCUS_COLUMNS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            c.name,
            shown(c.usage),
            shown(c.marketplace),
            shown(c.exported),
            shown(c.native),
            c.why
        ));
    }
    out
}
