-- name: marketplace_by_publisher
-- description: Azure Marketplace charges of a period by publisher, offer and plan.
-- param: period period = latest
-- chart: bar x=publisher y=cost
WITH by_offer AS (
    SELECT publisher_name AS publisher, offer_name AS offer, plan_name AS plan,
           count(*) AS charges, sum(consumed_quantity) AS quantity, sum(extended_cost) AS cost
    FROM marketplace_charges
    WHERE billing_period = $period
    GROUP BY publisher_name, offer_name, plan_name
)
SELECT publisher, offer, plan, charges, quantity, cost,
       round(100 * cost / sum(cost) OVER (), 2) AS pct
FROM by_offer
ORDER BY cost DESC, publisher, offer, plan;
