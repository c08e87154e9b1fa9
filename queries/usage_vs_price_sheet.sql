-- name: usage_vs_price_sheet
-- description: Meters billed at a rate other than the price sheet's unit price for their unit-of-measure block ("100 Hours", "10,000 s").
-- param: period period = latest
WITH usage AS (
    SELECT meter_id, meter_name, unit_of_measure, resource_rate, count(*) AS usage_rows, sum(cost) AS cost
    FROM usage_details
    WHERE billing_period = $period
    GROUP BY meter_id, meter_name, unit_of_measure, resource_rate
), sheet AS (
    SELECT
        meter_id,
        unit_price,
        unit_of_measure,
        -- The number the unit of measure starts with: "10,000 s" is 10000.
        unit_block_size(unit_of_measure) AS block_size
    FROM price_sheet
    WHERE billing_period = $period
)
SELECT
    u.meter_id,
    u.meter_name,
    s.unit_of_measure,
    s.block_size,
    s.unit_price AS sheet_unit_price,
    u.resource_rate * s.block_size AS billed_unit_price,
    u.resource_rate * s.block_size - s.unit_price AS difference,
    u.usage_rows,
    u.cost
FROM usage u
JOIN sheet s ON s.meter_id = u.meter_id
WHERE u.resource_rate * s.block_size <> s.unit_price
ORDER BY u.cost DESC, u.meter_id;
