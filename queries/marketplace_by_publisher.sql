-- name: marketplace_by_publisher
-- description: Azure Marketplace charges of a period by publisher, offer and plan.
-- needs: focus
-- param: period period = latest
-- chart: bar x=publisher y=cost
WITH by_offer AS (
    SELECT "PublisherName" AS publisher, "ServiceName" AS offer, "x_SkuPlanName" AS plan,
           count(*) AS charges, sum("ConsumedQuantity") AS quantity, sum("BilledCost") AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period AND "x_PublisherCategory" = 'Vendor'
    GROUP BY 1, 2, 3
)
SELECT publisher, offer, plan, charges, quantity, cost,
       round(100 * cost / nullif(sum(cost) OVER (), 0), 2) AS pct
FROM by_offer
ORDER BY cost DESC, publisher, offer, plan;
