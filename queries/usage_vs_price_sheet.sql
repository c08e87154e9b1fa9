-- name: usage_vs_price_sheet
-- description: Meters billed at a rate other than the price sheet's unit price for their unit-of-measure block ("100 Hours", "10,000 s").
-- needs: focus, prices
-- param: period period = latest
WITH billed AS (
    SELECT "BillingAccountId" AS billing_account, "SkuPriceId" AS meter_id, "x_SkuMeterName" AS meter_name,
           "x_EffectiveUnitPrice" AS rate, count(*) AS charges, sum("BilledCost") AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period AND "x_PublisherCategory" = 'Cloud Provider'
    GROUP BY 1, 2, 3, 4
), sheet AS (
    SELECT billing_account, meter_id, unit_price, unit_of_measure, block_size
    FROM prices
    WHERE billing_period = $period
)
SELECT
    b.meter_id,
    b.meter_name,
    s.unit_of_measure,
    s.block_size,
    s.unit_price AS sheet_unit_price,
    b.rate * s.block_size AS billed_unit_price,
    b.rate * s.block_size - s.unit_price AS difference,
    b.charges,
    b.cost
FROM billed b
JOIN sheet s ON s.meter_id = b.meter_id AND s.billing_account = b.billing_account
WHERE b.rate * s.block_size <> s.unit_price
ORDER BY b.cost DESC, b.meter_id;
