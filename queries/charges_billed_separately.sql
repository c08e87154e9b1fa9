-- name: charges_billed_separately
-- description: Azure charges billed outside the monetary commitment (support plans and the like) by subscription and meter, beside the balance summary's figure where the lake has it.
-- needs: focus
-- param: period period = latest
WITH separate AS (
    SELECT "SubAccountName" AS subscription, "x_SkuMeterCategory" AS meter_category,
           "x_SkuMeterName" AS meter_name, count(*) AS charges, sum("BilledCost") AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period
      AND "x_PublisherCategory" = 'Cloud Provider'
      AND NOT "x_SkuIsCreditEligible"
    GROUP BY 1, 2, 3
), billed AS (
    SELECT sum(charges_billed_separately) AS billed
    FROM balance_summary
    WHERE billing_period = $period
)
SELECT s.subscription, s.meter_category, s.meter_name, s.charges, s.cost,
       sum(s.cost) OVER () AS period_total,
       b.billed AS billed_separately_in_balance
FROM separate s, billed b
ORDER BY s.cost DESC, s.subscription, s.meter_name;
