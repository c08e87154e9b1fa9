//! A month's balance from `Microsoft.Consumption/balances` into `balance_summary`, the
//! columns the EA API filled: the answer's `properties` are the EA balance summary's fields
//! under the same names, except the currency (`currency`, right-padded with spaces, for
//! `currencyCode`) and the period (in the resource id, for `billingPeriodId`). The numbers
//! are carried over as their JSON text, so no amount passes through a float.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::super::ea_api::fetch::write_rows;
use super::super::{Fetched, UnitContext, UnitError};
use super::{CONSUMPTION_API_VERSION, CostManagement};
use crate::http::HttpError;

#[derive(Deserialize)]
struct Balance {
    #[serde(default)]
    id: Option<String>,
    properties: BTreeMap<String, Box<RawValue>>,
}

pub(super) async fn balance(
    src: &CostManagement,
    closed: bool,
    ctx: &mut UnitContext<'_>,
) -> Result<Fetched, UnitError> {
    let period = ctx.key.period.expect("balances are per month");
    let url = src.url(
        &format!(
            "{}/{}/{period}/{}",
            src.scope(),
            super::routes::BILLING_PERIODS,
            super::routes::BALANCES
        ),
        CONSUMPTION_API_VERSION,
    )?;
    let reply = match src
        .arm
        .send(Method::GET, &url, None, &mut ctx.retries)
        .await
    {
        Ok(reply) => reply,
        Err(HttpError::NotFound { .. }) => {
            ctx.warn(format!("{}: the API has no balance for {period}", ctx.key));
            return Ok(Fetched::Kept);
        }
        Err(e) => return Err(e.into()),
    };
    let balance: Balance = serde_json::from_slice(&reply.body).map_err(|e| {
        format!(
            "{}: the balance is not the object the API sends ({e})",
            ctx.key
        )
    })?;
    let row = ea_row(&balance, &period.to_string())?;
    let (written, rounded) = write_rows(ctx, row.as_bytes()).await?;
    Ok(super::written(
        written,
        rounded,
        None,
        CONSUMPTION_API_VERSION,
        closed,
    ))
}

/// The balance as the EA API's balance summary object.
fn ea_row(balance: &Balance, period: &str) -> Result<String, UnitError> {
    let mut row = serde_json::Map::new();
    if let Some(id) = &balance.id {
        row.insert("id".into(), id.clone().into());
    }
    row.insert("billingPeriodId".into(), period.into());
    let mut out = serde_json::to_string(&row)?;
    out.pop(); // the closing brace; the raw properties follow
    for (name, value) in &balance.properties {
        out.push(',');
        if name == "currency" {
            let currency: String = serde_json::from_str(value.get()).unwrap_or_default();
            out.push_str("\"currencyCode\":");
            out.push_str(&serde_json::to_string(currency.trim())?);
        } else {
            out.push_str(&serde_json::to_string(name)?);
            out.push(':');
            out.push_str(value.get());
        }
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumption_balance_becomes_the_ea_summary_exactly() {
        let b: Balance = serde_json::from_str(
            r#"{"id":"/x/balances/b1","properties":{"currency":"EUR  ","beginningBalance":150000.000000000001,"newPurchasesDetails":[{"name":"Azure Prepayment","value":0}]}}"#,
        )
        .unwrap();
        let row = ea_row(&b, "202404").unwrap();
        assert_eq!(
            row,
            r#"{"billingPeriodId":"202404","id":"/x/balances/b1","beginningBalance":150000.000000000001,"currencyCode":"EUR","newPurchasesDetails":[{"name":"Azure Prepayment","value":0}]}"#
        );
    }
}
