-- name: charges_billed_separately
-- description: Usage billed outside the monetary commitment (support plans and the like) by subscription and meter, beside the balance summary's figure.
-- param: period period = latest
WITH separate AS (
    SELECT subscription_name AS subscription, meter_category, meter_name,
           count(*) AS usage_rows, sum(cost) AS cost
    FROM usage_details
    WHERE billing_period = $period AND charges_billed_separately
    GROUP BY subscription_name, meter_category, meter_name
), billed AS (
    SELECT sum(charges_billed_separately) AS billed
    FROM balance_summary
    WHERE billing_period = $period
)
SELECT s.subscription, s.meter_category, s.meter_name, s.usage_rows, s.cost,
       sum(s.cost) OVER () AS period_total,
       b.billed AS billed_separately_in_balance
FROM separate s, billed b
ORDER BY s.cost DESC, s.subscription, s.meter_name;
