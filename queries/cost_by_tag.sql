-- name: cost_by_tag
-- description: Cost of a period by the values of one tag key (or by every key and value with key = *), with the spend that lacks the tag.
-- param: period period = latest
-- param: key text = *
-- chart: bar x=tag_value y=cost
WITH usage AS (
    SELECT cost, tags_map
    FROM usage_details
    WHERE billing_period = $period
), one_key AS (
    -- One key: a lookup per row, in one pass; the rows without the key group as '(none)'.
    SELECT
        $key AS tag_key,
        coalesce(tags_map[$key], '(none)') AS tag_value,
        count(*) AS usage_rows,
        sum(cost) AS cost
    FROM usage
    WHERE $key <> '*'
    GROUP BY tags_map[$key]
), pairs AS (
    -- Every key: one row per tag of each usage row; rows without tags unnest to none.
    SELECT cost, unnest(map_keys(tags_map)) AS tag_key, unnest(map_values(tags_map)) AS tag_value
    FROM usage
    WHERE $key = '*'
), untagged AS (
    -- Every key: the rows with no tags at all, and the period's total, in one pass.
    SELECT
        '(untagged)' AS tag_key,
        '(none)' AS tag_value,
        count(*) FILTER (WHERE coalesce(cardinality(tags_map), 0) = 0) AS usage_rows,
        coalesce(sum(cost) FILTER (WHERE coalesce(cardinality(tags_map), 0) = 0), 0) AS cost,
        sum(cost) AS period_cost
    FROM usage
    WHERE $key = '*'
), counted AS (
    -- Each row carries the period's total or NULL; a window hands it to every row.
    SELECT tag_key, tag_value, usage_rows, cost, sum(cost) OVER () AS period_cost
    FROM one_key
    UNION ALL
    SELECT tag_key, tag_value, count(*), sum(cost), CAST(NULL AS DECIMAL(38, 12))
    FROM pairs
    GROUP BY tag_key, tag_value
    UNION ALL
    SELECT * FROM untagged
)
SELECT tag_key, tag_value, usage_rows, cost, pct_of_period
FROM (
    SELECT *, round(100 * cost / max(period_cost) OVER (), 2) AS pct_of_period
    FROM counted
)
WHERE usage_rows > 0
ORDER BY tag_key, cost DESC, tag_value;
