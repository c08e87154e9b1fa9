-- name: reservation_utilization
-- description: Each reservation's reserved and used hours in a period, least used first: its utilization and the hours it left unused, which expire (reserved hours do not carry over).
-- needs: reservation_details
-- param: period period = latest
-- chart: bar x=reservation_id y=unused_hours
SELECT
    billing_account,
    reservation_order_id,
    reservation_id,
    sku_name,
    min(usage_date) AS first_day,
    max(usage_date) AS last_day,
    sum(reserved_hours) AS reserved_hours,
    sum(used_hours) AS used_hours,
    sum(reserved_hours) - sum(used_hours) AS unused_hours,
    round(100 * sum(used_hours) / nullif(sum(reserved_hours), 0), 2) AS utilization_pct
FROM reservation_details
WHERE billing_period = $period
GROUP BY billing_account, reservation_order_id, reservation_id, sku_name
ORDER BY utilization_pct NULLS FIRST, reservation_id;
