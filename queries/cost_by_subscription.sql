-- name: cost_by_subscription
-- description: Cost of a billing period by department, account, subscription and resource group.
-- param: period period = latest
-- param: top int = 50
WITH grouped AS (
    SELECT
        department_name AS department,
        account_name AS account,
        subscription_name AS subscription,
        resource_group,
        sum(cost) AS cost
    FROM usage_details
    WHERE billing_period = $period
    GROUP BY department_name, account_name, subscription_name, resource_group
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY cost DESC, subscription, resource_group) AS rank
    FROM grouped
)
SELECT rank, department, account, subscription, resource_group, cost
FROM ranked
WHERE rank <= CAST($top AS BIGINT)
ORDER BY rank;
