-- name: price_changes
-- description: Meters whose price-sheet unit price changed between two periods, largest relative change first.
-- param: from period = previous
-- param: to period = latest
WITH before AS (
    SELECT meter_id, meter_name, unit_of_measure, unit_price
    FROM price_sheet
    WHERE billing_period = $from AND meter_id IS NOT NULL
), after AS (
    SELECT meter_id, meter_name, unit_of_measure, unit_price
    FROM price_sheet
    WHERE billing_period = $to AND meter_id IS NOT NULL
)
SELECT
    a.meter_id,
    a.meter_name,
    a.unit_of_measure,
    b.unit_price AS price_before,
    a.unit_price AS price_after,
    a.unit_price - b.unit_price AS change,
    round(100 * (a.unit_price - b.unit_price) / b.unit_price, 2) AS change_pct
FROM after a
JOIN before b ON b.meter_id = a.meter_id
WHERE a.unit_price <> b.unit_price
ORDER BY abs(a.unit_price - b.unit_price) / b.unit_price DESC, a.meter_id;
