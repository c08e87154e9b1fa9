-- name: changed_costs
-- description: What moved when a period's data was published again (a late correction, a re-run export): each department's and service's cost now and before the period's latest replacement (`previous.focus`), biggest moves first; `costlake changes` lists the periods replaced.
-- needs: focus
-- param: period period = previous
-- param: cost billed|effective = billed
-- chart: bar x=service y=difference
WITH now AS (
    SELECT "x_InvoiceSectionName" AS department, "ServiceName" AS service,
           sum(CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END) AS cost
    FROM focus
    WHERE "x_BillingPeriod" = $period
    GROUP BY "x_InvoiceSectionName", "ServiceName"
), before AS (
    SELECT "x_InvoiceSectionName" AS department, "ServiceName" AS service,
           sum(CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END) AS cost
    FROM previous.focus
    WHERE "x_BillingPeriod" = $period
    GROUP BY "x_InvoiceSectionName", "ServiceName"
)
SELECT
    coalesce(n.department, b.department) AS department,
    coalesce(n.service, b.service) AS service,
    b.cost AS cost_before,
    n.cost AS cost_now,
    coalesce(n.cost, 0) - coalesce(b.cost, 0) AS difference
FROM now n
FULL JOIN before b
  ON (n.department IS NOT DISTINCT FROM b.department) AND (n.service IS NOT DISTINCT FROM b.service)
WHERE coalesce(n.cost, 0) <> coalesce(b.cost, 0)
ORDER BY abs(coalesce(n.cost, 0) - coalesce(b.cost, 0)) DESC, department, service;
