-- name: monthly_summary
-- description: Each billing period's usage and marketplace cost beside the balance summary's totals.
-- chart: bar x=billing_period y=usage_cost,marketplace_cost
WITH usage AS (
    SELECT enrollment, billing_period, count(*) AS usage_rows, sum(cost) AS usage_cost
    FROM usage_details
    GROUP BY enrollment, billing_period
), marketplace AS (
    SELECT enrollment, billing_period, sum(extended_cost) AS marketplace_cost
    FROM marketplace_charges
    GROUP BY enrollment, billing_period
)
SELECT
    u.enrollment,
    u.billing_period,
    u.usage_rows,
    u.usage_cost,
    b.total_usage AS billed_usage,
    u.usage_cost - b.total_usage AS usage_difference,
    coalesce(m.marketplace_cost, 0) AS marketplace_cost,
    b.azure_marketplace_service_charges AS billed_marketplace
FROM usage u
LEFT JOIN balance_summary b ON b.enrollment = u.enrollment AND b.billing_period = u.billing_period
LEFT JOIN marketplace m ON m.enrollment = u.enrollment AND m.billing_period = u.billing_period
ORDER BY u.enrollment, u.billing_period;
