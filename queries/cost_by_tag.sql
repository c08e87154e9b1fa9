-- name: cost_by_tag
-- description: Cost of a period by the values of one tag key (or by every key and value with key = *), with the spend that lacks the tag.
-- needs: focus
-- param: period period = latest
-- param: key text = *
-- param: cost billed|effective = billed
-- chart: bar x=tag_value y=cost
WITH charges AS (
    SELECT CASE WHEN $cost = 'effective' THEN "EffectiveCost" ELSE "BilledCost" END AS cost, "x_TagsMap" AS tags_map
    FROM focus
    WHERE "x_BillingPeriod" = $period
), one_key AS (
    -- One key: a lookup per row, in one pass; the charges without the key group as '(none)'.
    -- `map_extract(m, k)[1]`, not `m[k]`: grouping by the latter over the focus view fails to
    -- plan in DataFusion 55 ("duplicate qualified field name").
    SELECT
        $key AS tag_key,
        coalesce(map_extract(tags_map, $key)[1], '(none)') AS tag_value,
        count(*) AS charges,
        sum(cost) AS cost
    FROM charges
    WHERE $key <> '*'
    GROUP BY map_extract(tags_map, $key)[1]
), pairs AS (
    -- Every key: one row per tag of each charge; charges without tags unnest to none.
    SELECT cost, unnest(map_keys(tags_map)) AS tag_key, unnest(map_values(tags_map)) AS tag_value
    FROM charges
    WHERE $key = '*'
), untagged AS (
    -- Every key: the charges with no tags at all, and the period's total, in one pass.
    SELECT
        '(untagged)' AS tag_key,
        '(none)' AS tag_value,
        count(*) FILTER (WHERE coalesce(cardinality(tags_map), 0) = 0) AS charges,
        coalesce(sum(cost) FILTER (WHERE coalesce(cardinality(tags_map), 0) = 0), 0) AS cost,
        sum(cost) AS period_cost
    FROM charges
    WHERE $key = '*'
), counted AS (
    -- Each row carries the period's total or NULL; a window hands it to every row.
    SELECT tag_key, tag_value, charges, cost, sum(cost) OVER () AS period_cost
    FROM one_key
    UNION ALL
    SELECT tag_key, tag_value, count(*), sum(cost), CAST(NULL AS DECIMAL(38, 12))
    FROM pairs
    GROUP BY tag_key, tag_value
    UNION ALL
    SELECT * FROM untagged
)
SELECT tag_key, tag_value, charges, cost, pct_of_period
FROM (
    SELECT *, round(100 * cost / max(period_cost) OVER (), 2) AS pct_of_period
    FROM counted
)
WHERE charges > 0
ORDER BY tag_key, cost DESC, tag_value;
