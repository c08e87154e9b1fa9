-- name: untagged_resources
-- description: The resources that cost the most without tags (or without one tag key): who to ask to tag what.
-- param: period period = latest
-- param: key text = *
-- param: top int = 25
WITH lacking AS (
    SELECT subscription_name, resource_group, instance_id, cost
    FROM usage_details
    WHERE billing_period = $period
      AND CASE
          WHEN $key = '*' THEN coalesce(cardinality(tags_map), 0) = 0
          ELSE tags_map[$key] IS NULL
      END
), by_resource AS (
    SELECT subscription_name AS subscription, resource_group, instance_id, count(*) AS usage_rows, sum(cost) AS cost
    FROM lacking
    GROUP BY subscription_name, resource_group, instance_id
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY cost DESC, instance_id) AS rank
    FROM by_resource
)
SELECT rank, subscription, resource_group, instance_id, usage_rows, cost
FROM ranked
WHERE rank <= CAST($top AS BIGINT)
ORDER BY rank;
