-- name: commitment_burndown
-- description: The monetary commitment period by period (beginning balance, purchases, adjustments, utilized, overage), then a forecast that burns the recent monthly average until the balance runs out.
-- needs: balance_summary
-- param: trailing int = 3
-- param: months int = 12
-- chart: line x=billing_period y=ending_balance,utilized,service_overage
WITH actual AS (
    SELECT
        billing_period,
        beginning_balance,
        new_purchases,
        adjustments,
        utilized,
        service_overage,
        charges_billed_separately,
        ending_balance,
        row_number() OVER (ORDER BY billing_period DESC) AS age
    FROM balance_summary
), latest AS (
    -- The newest period and the burn rate, in one pass: what the commitment pays each month
    -- (Azure usage other than charges billed separately), averaged over the most recent
    -- `trailing` periods.
    SELECT
        max(CASE WHEN age = 1 THEN ending_balance END) AS ending_balance,
        max(CASE WHEN age = 1 THEN CAST(substr(billing_period, 1, 4) AS BIGINT) * 12
                                   + CAST(substr(billing_period, 5, 2) AS BIGINT) - 1 END) AS month_index,
        CAST(sum(CASE WHEN age <= CAST($trailing AS BIGINT) THEN utilized + service_overage END)
             / count(CASE WHEN age <= CAST($trailing AS BIGINT) THEN 1 END) AS DECIMAL(38, 12)) AS monthly
    FROM actual
), ahead AS (
    -- range takes constants only: at most ten years ahead. A list unnested, not the
    -- generate_series table function, so that a cluster (--cluster) runs it too.
    SELECT k FROM (SELECT unnest(range(1, 121)) AS k) WHERE k <= CAST($months AS BIGINT)
), forecast AS (
    SELECT
        k,
        (month_index + k) / 12 * 100 + (month_index + k) % 12 + 1 AS yyyymm,
        greatest(ending_balance - (k - 1) * monthly, CAST(0 AS DECIMAL(38, 12))) AS beginning_balance,
        monthly
    FROM latest, ahead
    WHERE month_index IS NOT NULL
)
SELECT billing_period, 'actual' AS kind, beginning_balance, new_purchases, adjustments, utilized,
       service_overage, charges_billed_separately, ending_balance
FROM actual
UNION ALL
SELECT
    CAST(yyyymm AS VARCHAR) AS billing_period,
    'forecast' AS kind,
    beginning_balance,
    CAST(0 AS DECIMAL(38, 12)) AS new_purchases,
    CAST(0 AS DECIMAL(38, 12)) AS adjustments,
    least(monthly, beginning_balance) AS utilized,
    monthly - least(monthly, beginning_balance) AS service_overage,
    CAST(NULL AS DECIMAL(38, 12)) AS charges_billed_separately,
    beginning_balance - least(monthly, beginning_balance) AS ending_balance
FROM forecast
ORDER BY billing_period;
