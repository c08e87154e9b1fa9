-- name: tag_coverage
-- description: How much of a period's cost carries each tag key, keys compared case-insensitively (Env and env are one key in practice), with the spellings found and the cost without the key.
-- needs: focus
-- param: period period = latest
-- param: cost billed|effective = billed
-- chart: bar x=tag_key y=cost
WITH charges AS (
    SELECT CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END AS cost, "x_TagsMap" AS tags
    FROM focus
    WHERE "x_BillingPeriod" = $period
), keyed AS (
    -- Each charge once per key, however many spellings it carries: its keys lowered together
    -- (joined by a control character no key holds), split again and deduplicated.
    SELECT cost, unnest(array_distinct(string_to_array(lower(array_to_string(map_keys(tags), chr(31))), chr(31)))) AS tag_key
    FROM charges
    WHERE coalesce(cardinality(tags), 0) > 0
), by_key AS (
    SELECT tag_key, count(*) AS charges, sum(cost) AS cost
    FROM keyed
    GROUP BY tag_key
), spellings AS (
    SELECT lower(spelling) AS tag_key, array_to_string(array_sort(array_agg(DISTINCT spelling)), ', ') AS spellings
    FROM (SELECT unnest(map_keys(tags)) AS spelling FROM charges)
    GROUP BY lower(spelling)
), period AS (
    SELECT sum(cost) AS cost FROM charges
)
SELECT
    k.tag_key,
    s.spellings,
    k.charges,
    k.cost,
    round(100 * k.cost / nullif(p.cost, 0), 2) AS pct_of_cost,
    p.cost - k.cost AS cost_without_key
FROM by_key k
JOIN spellings s ON s.tag_key = k.tag_key
CROSS JOIN period p
ORDER BY k.cost DESC, k.tag_key;
