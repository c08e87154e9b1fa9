-- name: cost_by_currency
-- description: A period's cost in its billing currency beside the currency its prices were set in, where the data carries both (FOCUS exports name a pricing currency and the day's exchange rate; EA prices are in the billing currency): billed and effective cost in each, each charge converted at its own rate (DataFusion divides to 16 places, truncating, and `round` rounds half away from zero to 12), and the range of rates.
-- needs: focus
-- param: period period = latest
SELECT
    "BillingCurrency" AS billing_currency,
    "PricingCurrency" AS pricing_currency,
    count(*) AS charges,
    sum("BilledCost") AS billed_cost,
    sum(round("BilledCost" / "x_BillingExchangeRate", 12)) AS billed_cost_in_pricing_currency,
    sum("EffectiveCost") AS effective_cost,
    sum(round("EffectiveCost" / "x_BillingExchangeRate", 12)) AS effective_cost_in_pricing_currency,
    min("x_BillingExchangeRate") AS lowest_rate,
    max("x_BillingExchangeRate") AS highest_rate
FROM focus
WHERE "x_BillingPeriod" = $period
GROUP BY "BillingCurrency", "PricingCurrency"
ORDER BY billing_currency, pricing_currency;
