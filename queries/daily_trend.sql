-- name: daily_trend
-- description: Daily cost of a period beside its trailing 7-day mean; days that deviate by more than the threshold are flagged.
-- needs: focus
-- param: period period = latest
-- param: threshold decimal = 0.25
-- param: cost billed|effective = billed
-- chart: line x=date y=cost,trailing_mean
WITH daily AS (
    SELECT CAST("ChargePeriodStart" AS DATE) AS date, sum(CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END) AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period
    GROUP BY 1
), with_mean AS (
    SELECT
        date,
        cost,
        -- Back to the lake's scale: avg widens it, and a ratio of wide decimals overflows.
        CAST(avg(cost) OVER (ORDER BY date ROWS BETWEEN 7 PRECEDING AND 1 PRECEDING) AS DECIMAL(38, 12)) AS trailing_mean
    FROM daily
)
SELECT
    date,
    cost,
    round(trailing_mean, 2) AS trailing_mean,
    CASE
        WHEN trailing_mean IS NULL OR trailing_mean = 0 THEN NULL
        ELSE round(100 * (cost - trailing_mean) / trailing_mean, 1)
    END AS deviation_pct,
    CASE
        WHEN trailing_mean > 0 AND abs(cost - trailing_mean) > CAST($threshold AS DECIMAL(38, 12)) * trailing_mean THEN 'anomaly'
        ELSE ''
    END AS flag
FROM with_mean
ORDER BY date;
