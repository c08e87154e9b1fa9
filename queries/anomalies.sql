-- name: anomalies
-- description: Days on which a subscription's or a service's cost left its recent range. Rule: with n (at least 3) of the 7 previous days on which it had charges, summing S, a day costing c is an anomaly when |n·c − S| > threshold · |S| and |n·c − S| > n · min_change, that is when it differs from their mean by more than the threshold's share of it and by more than min_change.
-- needs: focus
-- param: period period = latest
-- param: threshold decimal = 0.5
-- param: min_change decimal = 10
-- param: cost billed|effective = billed
-- chart: bar x=name y=change
WITH charges AS (
    SELECT "SubAccountName" AS subscription, "ServiceName" AS service,
           CAST("ChargePeriodStart" AS DATE) AS date, CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period
), daily AS (
    SELECT 'subscription' AS scope, subscription AS name, date, sum(cost) AS cost
    FROM charges GROUP BY subscription, date
    UNION ALL
    SELECT 'service', service, date, sum(cost)
    FROM charges GROUP BY service, date
), windowed AS (
    SELECT
        scope, name, date, cost,
        sum(cost) OVER (PARTITION BY scope, name ORDER BY date ROWS BETWEEN 7 PRECEDING AND 1 PRECEDING) AS prior_sum,
        count(*) OVER (PARTITION BY scope, name ORDER BY date ROWS BETWEEN 7 PRECEDING AND 1 PRECEDING) AS prior_days
    FROM daily
)
SELECT
    scope,
    name,
    date,
    cost,
    round(prior_sum / prior_days, 2) AS recent_mean,
    round(cost - prior_sum / prior_days, 2) AS change,
    round(100 * (cost * prior_days - prior_sum) / nullif(abs(prior_sum), 0), 1) AS change_pct
FROM windowed
WHERE prior_days >= 3
  AND abs(cost * prior_days - prior_sum) > CAST($threshold AS DECIMAL(38, 12)) * abs(prior_sum)
  AND abs(cost * prior_days - prior_sum) > CAST($min_change AS DECIMAL(38, 12)) * prior_days
ORDER BY abs(cost * prior_days - prior_sum) / prior_days DESC, scope, name, date;
