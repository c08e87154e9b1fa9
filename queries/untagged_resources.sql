-- name: untagged_resources
-- description: The resources that cost the most without tags (or without one tag key): who to ask to tag what.
-- needs: focus
-- param: period period = latest
-- param: key text = *
-- param: top int = 25
-- param: cost billed|effective = billed
WITH lacking AS (
    SELECT "SubAccountName" AS subscription, "x_ResourceGroupName" AS resource_group,
           "ResourceId" AS resource_id, CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period
      AND CASE
          WHEN $key = '*' THEN coalesce(cardinality("x_TagsMap"), 0) = 0
          ELSE map_extract("x_TagsMap", $key)[1] IS NULL
      END
), by_resource AS (
    SELECT subscription, resource_group, resource_id, count(*) AS charges, sum(cost) AS cost
    FROM lacking
    GROUP BY subscription, resource_group, resource_id
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY cost DESC, resource_id) AS rank
    FROM by_resource
)
SELECT rank, subscription, resource_group, resource_id, charges, cost
FROM ranked
WHERE rank <= CAST($top AS BIGINT)
ORDER BY rank;
