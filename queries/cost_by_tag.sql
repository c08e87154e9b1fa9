-- name: cost_by_tag
-- description: Cost of a period by the values of one tag key (or by every key and value with key = *), with the spend that lacks the tag.
-- param: period period = latest
-- param: key text = *
-- chart: bar x=tag_value y=cost
WITH usage AS (
    SELECT cost, tags_map
    FROM usage_details
    WHERE billing_period = $period
), pairs AS (
    -- One row per tag of each usage row; rows without tags unnest to none.
    SELECT cost, unnest(map_keys(tags_map)) AS tag_key, unnest(map_values(tags_map)) AS tag_value
    FROM usage
), tagged AS (
    SELECT tag_key, tag_value, count(*) AS usage_rows, sum(cost) AS cost
    FROM pairs
    WHERE $key = '*' OR tag_key = $key
    GROUP BY tag_key, tag_value
), lacking AS (
    -- With key = *, the rows with no tags at all; otherwise the rows without that key.
    SELECT
        CASE WHEN $key = '*' THEN '(untagged)' ELSE $key END AS tag_key,
        '(none)' AS tag_value,
        count(*) AS usage_rows,
        coalesce(sum(cost), 0) AS cost
    FROM usage
    WHERE CASE
        WHEN $key = '*' THEN coalesce(cardinality(tags_map), 0) = 0
        ELSE tags_map[$key] IS NULL
    END
), period_total AS (
    SELECT sum(cost) AS cost FROM usage
)
SELECT
    t.tag_key,
    t.tag_value,
    t.usage_rows,
    t.cost,
    round(100 * t.cost / p.cost, 2) AS pct_of_period
FROM (SELECT * FROM tagged UNION ALL SELECT * FROM lacking WHERE usage_rows > 0) t, period_total p
ORDER BY t.tag_key, t.cost DESC, t.tag_value;
