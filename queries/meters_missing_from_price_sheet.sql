-- name: meters_missing_from_price_sheet
-- description: Meters billed in a period that the period's price sheet does not list (needs price sheets of API v2 or later, which carry meter ids).
-- param: period period = latest
WITH sheet AS (
    SELECT DISTINCT meter_id
    FROM price_sheet
    WHERE billing_period = $period AND meter_id IS NOT NULL
)
SELECT
    u.meter_id,
    u.meter_category,
    u.meter_name,
    u.meter_region,
    u.unit_of_measure,
    count(*) AS usage_rows,
    sum(u.consumed_quantity) AS consumed_quantity,
    sum(u.cost) AS cost
FROM usage_details u
-- `NOT EXISTS`, which DataFusion runs as an anti join; `NOT IN (subquery)` would be a slower
-- null-aware join, and `LEFT JOIN … IS NULL` joins every usage row first.
WHERE u.billing_period = $period
  AND NOT EXISTS (SELECT 1 FROM sheet s WHERE s.meter_id = u.meter_id)
GROUP BY u.meter_id, u.meter_category, u.meter_name, u.meter_region, u.unit_of_measure
ORDER BY cost DESC, u.meter_id;
