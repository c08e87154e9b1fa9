-- name: top_resources
-- description: The resources (ARM resource ids) that cost the most in a period.
-- needs: focus
-- param: period period = latest
-- param: top int = 20
-- param: cost billed|effective = billed
WITH by_resource AS (
    SELECT "ResourceId" AS resource_id, "x_ResourceGroupName" AS resource_group, "ServiceName" AS service,
           sum(CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END) AS cost, count(*) AS charges
    FROM focus
    WHERE "x_BillingPeriod" = $period
    GROUP BY 1, 2, 3
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY cost DESC, resource_id, service) AS rank
    FROM by_resource
)
SELECT rank, resource_id, resource_group, service, charges, cost
FROM ranked
WHERE rank <= CAST($top AS BIGINT)
ORDER BY rank;
