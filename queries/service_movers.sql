-- name: service_movers
-- description: Month-over-month cost change by service (the EA meter category, or the Marketplace offer) against the period before, biggest movers first.
-- needs: focus
-- param: period period = latest
-- param: top int = 10
-- param: cost billed|effective = billed
-- chart: bar x=service y=previous_cost,cost
WITH periods AS (
    -- The period before $period, from the calendar (yyyyMM arithmetic), not from what was synced.
    SELECT $period AS current_period,
           to_char(to_date(concat($period, '01'), '%Y%m%d') - INTERVAL '1 month', '%Y%m') AS previous_period
), by_service AS (
    -- One scan of both months; a service billed in only one of them has 0 in the other.
    SELECT
        "ServiceName" AS service,
        sum(CASE WHEN "x_BillingPeriod" = previous_period THEN CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END ELSE 0 END) AS previous_cost,
        sum(CASE WHEN "x_BillingPeriod" = current_period THEN CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END ELSE 0 END) AS cost
    FROM focus, periods
    WHERE "x_BillingPeriod" IN (current_period, previous_period)
    GROUP BY "ServiceName"
), changes AS (
    SELECT service, previous_cost, cost, cost - previous_cost AS change
    FROM by_service
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY abs(change) DESC, service) AS rank
    FROM changes
)
SELECT
    rank,
    service,
    previous_cost,
    cost,
    change,
    round(100 * change / nullif(previous_cost, 0), 1) AS change_pct
FROM ranked
WHERE rank <= CAST($top AS BIGINT)
ORDER BY rank;
