-- name: month_end_forecast
-- description: Each billing account's cost of a month to date and forecast to its end (the mean of its last 7 days with charges, for each day left), and of the calendar year (closed months as billed, the month's forecast for each month left), beside the commitment's latest balance where the lake has one.
-- needs: focus
-- param: period period = latest
-- param: cost billed|effective = billed
WITH daily AS (
    SELECT "BillingAccountId" AS billing_account, CAST("ChargePeriodStart" AS DATE) AS date, sum(CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END) AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period
    GROUP BY 1, 2
), recent AS (
    SELECT billing_account, date, cost,
           row_number() OVER (PARTITION BY billing_account ORDER BY date DESC) AS age
    FROM daily
), month AS (
    SELECT
        billing_account,
        sum(cost) AS month_to_date,
        max(date) AS last_day,
        CAST(sum(cost) FILTER (WHERE age <= 7) / count(*) FILTER (WHERE age <= 7) AS DECIMAL(38, 12)) AS daily_rate
    FROM recent
    GROUP BY billing_account
), calendar AS (
    SELECT
        to_date(concat($period, '01'), '%Y%m%d') AS first_day,
        CAST(substr($period, 5, 2) AS BIGINT) AS month_number
), earlier AS (
    -- The months of the same year before this one, as the lake holds them.
    SELECT "BillingAccountId" AS billing_account, sum(CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END) AS cost
    FROM focus
    WHERE "x_BillingPeriod" >= concat(substr($period, 1, 4), '01') AND "x_BillingPeriod" < $period
    GROUP BY 1
), balance AS (
    SELECT enrollment AS billing_account, ending_balance, billing_period,
           row_number() OVER (PARTITION BY enrollment ORDER BY billing_period DESC) AS age
    FROM balance_summary
    WHERE billing_period <= $period
), forecast AS (
    SELECT
        m.billing_account,
        m.month_to_date,
        m.last_day,
        CAST(date_part('day', c.first_day + INTERVAL '1 month' - INTERVAL '1 day') - date_part('day', m.last_day) AS BIGINT) AS days_left,
        m.daily_rate,
        12 - c.month_number AS months_left,
        coalesce(e.cost, 0) AS year_before_month
    FROM month m
    CROSS JOIN calendar c
    LEFT JOIN earlier e ON e.billing_account = m.billing_account
)
SELECT
    f.billing_account,
    $period AS billing_period,
    f.month_to_date,
    f.last_day AS charges_to,
    f.days_left,
    f.daily_rate,
    f.month_to_date + f.daily_rate * f.days_left AS month_forecast,
    f.year_before_month + f.month_to_date AS year_to_date,
    f.year_before_month + (f.month_to_date + f.daily_rate * f.days_left) * (1 + f.months_left) AS year_forecast,
    b.ending_balance AS commitment_balance,
    b.billing_period AS balance_of
FROM forecast f
LEFT JOIN balance b ON b.billing_account = f.billing_account AND b.age = 1
ORDER BY f.billing_account;
