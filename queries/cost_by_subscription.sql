-- name: cost_by_subscription
-- description: Cost of a billing period by department, account, subscription and resource group.
-- needs: focus
-- param: period period = latest
-- param: top int = 50
-- param: cost billed|effective = billed
WITH grouped AS (
    SELECT
        "x_InvoiceSectionName" AS department,
        "x_AccountName" AS account,
        "SubAccountName" AS subscription,
        "x_ResourceGroupName" AS resource_group,
        sum(CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END) AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period
    GROUP BY 1, 2, 3, 4
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY cost DESC, subscription, resource_group) AS rank
    FROM grouped
)
SELECT rank, department, account, subscription, resource_group, cost
FROM ranked
WHERE rank <= CAST($top AS BIGINT)
ORDER BY rank;
