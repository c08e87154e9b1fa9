-- name: monthly_summary
-- description: Each billing account's cost per period, Azure and Marketplace, beside the balance summary's totals where the lake has them, and which dataset answered.
-- needs: focus
-- chart: bar x=billing_period y=azure_cost,marketplace_cost
WITH charges AS (
    SELECT
        "BillingAccountId" AS billing_account,
        "x_BillingPeriod" AS billing_period,
        -- The view answers a period from one source; the EA API's is two tables.
        CASE
            WHEN bool_or("x_SourceDataset" = 'focus_costs') THEN 'focus_costs'
            WHEN bool_or("x_SourceDataset" = 'cost_details') THEN 'cost_details'
            ELSE 'usage_details'
        END AS source,
        count(*) AS charges,
        coalesce(sum("BilledCost") FILTER (WHERE "x_PublisherCategory" <> 'Vendor'), 0) AS azure_cost,
        coalesce(sum("BilledCost") FILTER (WHERE "x_PublisherCategory" = 'Vendor'), 0) AS marketplace_cost
    FROM focus
    GROUP BY 1, 2
)
SELECT
    c.billing_account,
    c.billing_period,
    c.source,
    c.charges,
    c.azure_cost,
    b.total_usage AS billed_usage,
    c.azure_cost - b.total_usage AS usage_difference,
    c.marketplace_cost,
    b.azure_marketplace_service_charges AS billed_marketplace
FROM charges c
LEFT JOIN balance_summary b ON b.enrollment = c.billing_account AND b.billing_period = c.billing_period
ORDER BY c.billing_account, c.billing_period;
