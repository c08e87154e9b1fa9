-- name: meters_missing_from_price_sheet
-- description: Azure meters billed in a period that the billing account's price sheet for the period does not list (EA API price sheets of v2 or later, or price sheet exports).
-- needs: focus, prices
-- param: period period = latest
WITH sheet AS (
    SELECT DISTINCT billing_account, meter_id
    FROM prices
    WHERE billing_period = $period AND meter_id IS NOT NULL
)
SELECT
    f."SkuPriceId" AS meter_id,
    f."x_SkuMeterCategory" AS meter_category,
    f."x_SkuMeterName" AS meter_name,
    f."x_PricingUnitDescription" AS unit_of_measure,
    count(*) AS charges,
    sum(f."ConsumedQuantity") AS consumed_quantity,
    sum(f."BilledCost") AS cost
FROM focus f
-- `NOT EXISTS`, which DataFusion runs as an anti join; `NOT IN (subquery)` would be a slower
-- null-aware join, and `LEFT JOIN … IS NULL` joins every charge first.
WHERE f."x_BillingPeriod" = $period
  AND f."x_PublisherCategory" = 'Cloud Provider'
  AND NOT EXISTS (
      SELECT 1 FROM sheet s WHERE s.meter_id = f."SkuPriceId" AND s.billing_account = f."BillingAccountId"
  )
GROUP BY 1, 2, 3, 4
ORDER BY cost DESC, meter_id;
