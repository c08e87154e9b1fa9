//! The `prices` view: each billing account's consumption prices per period, from whichever
//! price sheet the lake holds for it: the price sheet export (or the Cost Management price
//! sheet download) where there is one for that account and period, else the EA API's price
//! sheet. Saved queries that compare billed rates with the contract read prices here, so they
//! answer on a lake from any source.

/// The view's name.
pub const PRICES_VIEW: &str = "prices";

/// `CREATE VIEW prices AS …`. One row per sheet entry: `unit_price` is per unit of measure (per
/// block: `100 Hours`), `block_size` the block, `list_price` the retail price where the sheet
/// has one (exports' `MarketPrice`; the EA API has none). Reservation and savings-plan prices
/// of the export are left out: they price commitments, not metered usage.
pub fn view_sql() -> String {
    let exported = "export_price_sheet WHERE price_type IS NULL OR price_type = 'Consumption'";
    format!(
        "CREATE VIEW {PRICES_VIEW} AS\n\
         SELECT billing_account, billing_period, meter_id, meter_name, unit_of_measure,\n\
                unit_block_size(unit_of_measure) AS block_size, unit_price, market_price AS list_price,\n\
                currency_code, part_number, offer_id, 'export_price_sheet' AS source_dataset\n\
         FROM {exported}\n\
         UNION ALL\n\
         SELECT p.enrollment, p.billing_period, p.meter_id, p.meter_name, p.unit_of_measure,\n\
                unit_block_size(p.unit_of_measure), p.unit_price, CAST(NULL AS DECIMAL(38, 12)),\n\
                p.currency_code, p.part_number, p.offer_id, 'price_sheet'\n\
         FROM price_sheet p\n\
         LEFT JOIN (SELECT DISTINCT billing_account, billing_period FROM {exported}) x\n\
           ON x.billing_account = p.enrollment AND x.billing_period = p.billing_period\n\
         WHERE x.billing_account IS NULL"
    )
}
