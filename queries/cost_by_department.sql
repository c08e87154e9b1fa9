-- name: cost_by_department
-- description: Cost of a billing period by EA department (invoice section), with each department's share.
-- needs: focus
-- param: period period = latest
-- param: cost billed|effective = billed
-- chart: bar x=department y=cost
WITH by_department AS (
    SELECT "x_InvoiceSectionName" AS department, count(*) AS charges,
           sum(CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END) AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period
    GROUP BY "x_InvoiceSectionName"
)
SELECT
    department,
    charges,
    cost,
    round(100 * cost / nullif(sum(cost) OVER (), 0), 2) AS pct
FROM by_department
ORDER BY cost DESC, department;
