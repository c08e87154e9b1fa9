-- name: cost_by_department
-- description: Cost of a billing period by EA department, with each department's share.
-- param: period period = latest
-- chart: bar x=department y=cost
WITH by_department AS (
    SELECT department_name, count(*) AS usage_rows, sum(cost) AS cost
    FROM usage_details
    WHERE billing_period = $period
    GROUP BY department_name
)
SELECT
    department_name AS department,
    usage_rows,
    cost,
    round(100 * cost / sum(cost) OVER (), 2) AS pct
FROM by_department
ORDER BY cost DESC;
