-- name: top_resources
-- description: The resources (ARM instance ids) that cost the most in a period.
-- param: period period = latest
-- param: top int = 20
WITH by_resource AS (
    SELECT instance_id, resource_group, meter_category, sum(cost) AS cost, count(*) AS usage_rows
    FROM usage_details
    WHERE billing_period = $period
    GROUP BY instance_id, resource_group, meter_category
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY cost DESC, instance_id) AS rank
    FROM by_resource
)
SELECT rank, instance_id, resource_group, meter_category, usage_rows, cost
FROM ranked
WHERE rank <= CAST($top AS BIGINT)
ORDER BY rank;
