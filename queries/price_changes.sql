-- name: price_changes
-- description: Meters whose price-sheet unit price changed between two periods, largest relative change first.
-- needs: prices
-- param: from period = previous
-- param: to period = latest
WITH before AS (
    SELECT billing_account, meter_id, meter_name, unit_of_measure, unit_price
    FROM prices
    WHERE billing_period = $from AND meter_id IS NOT NULL
), after AS (
    SELECT billing_account, meter_id, meter_name, unit_of_measure, unit_price
    FROM prices
    WHERE billing_period = $to AND meter_id IS NOT NULL
)
SELECT
    a.meter_id,
    a.meter_name,
    a.unit_of_measure,
    b.unit_price AS price_before,
    a.unit_price AS price_after,
    a.unit_price - b.unit_price AS change,
    round(100 * (a.unit_price - b.unit_price) / nullif(b.unit_price, 0), 2) AS change_pct
FROM after a
JOIN before b ON b.meter_id = a.meter_id AND b.billing_account = a.billing_account
WHERE a.unit_price <> b.unit_price
ORDER BY abs(a.unit_price - b.unit_price) / nullif(b.unit_price, 0) DESC NULLS FIRST, a.meter_id;
