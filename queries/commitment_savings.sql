-- name: commitment_savings
-- description: What each reservation and savings plan saved in a period against on-demand prices: quantity used and unused, utilization, the on-demand (contracted) cost of what it covered, its amortized cost of used and unused hours, and the net saving (on-demand cost less both), negative where it cost more than it saved. It needs amortized cost (amortized-cost or FOCUS exports): actual cost carries a commitment only as its purchase.
-- needs: focus
-- param: period period = latest
-- chart: bar x=commitment y=net_savings,unused_cost
WITH per_commitment AS (
    SELECT
        regexp_replace("CommitmentDiscountId", '^.*/', '') AS commitment,
        max("CommitmentDiscountType") AS type,
        sum(CASE WHEN "CommitmentDiscountStatus" = 'Used' THEN "ConsumedQuantity" ELSE 0 END) AS used,
        sum(CASE WHEN "CommitmentDiscountStatus" = 'Unused' THEN "ConsumedQuantity" ELSE 0 END) AS unused,
        sum(CASE WHEN "CommitmentDiscountStatus" = 'Used' THEN "ContractedCost" ELSE 0 END) AS on_demand_cost,
        sum(CASE WHEN "CommitmentDiscountStatus" = 'Used' THEN "EffectiveCost" ELSE 0 END) AS used_cost,
        sum(CASE WHEN "CommitmentDiscountStatus" = 'Unused' THEN "EffectiveCost" ELSE 0 END) AS unused_cost
    FROM focus
    WHERE "x_BillingPeriod" = $period AND "CommitmentDiscountStatus" IS NOT NULL
    GROUP BY regexp_replace("CommitmentDiscountId", '^.*/', '')
)
SELECT
    commitment,
    type,
    used,
    unused,
    round(100 * used / nullif(used + unused, 0), 2) AS utilization_pct,
    on_demand_cost,
    used_cost,
    unused_cost,
    on_demand_cost - used_cost - unused_cost AS net_savings
FROM per_commitment
ORDER BY net_savings, commitment;
