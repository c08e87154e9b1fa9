"""Reads a costlake lake with another engine and prints, as JSON, what it found per usage
period: rows and the exact sum of `cost` (as decimal text), and the marketplace total.

    python interop.py ENGINE LAKE_DIR     ENGINE: duckdb | pyarrow | pandas | spark
"""
import json
import sys
from decimal import Decimal


def duckdb_totals(lake):
    import duckdb

    con = duckdb.connect()
    usage = con.execute(
        "SELECT billing_period, count(*), sum(cost), typeof(sum(cost)) "
        f"FROM read_parquet('{lake}/usage_details/*/*/*.parquet', hive_partitioning=true) "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    market = con.execute(
        "SELECT sum(extended_cost) "
        f"FROM read_parquet('{lake}/marketplace_charges/*/*/*.parquet', hive_partitioning=true)"
    ).fetchone()[0]
    types = {t for *_, t in usage}
    assert types == {"DECIMAL(38,12)"}, types
    return {str(p): [n, str(c)] for p, n, c, _ in usage}, str(market)


def pyarrow_totals(lake):
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    def dataset(name):
        return ds.dataset(f"{lake}/{name}", format="parquet", partitioning="hive")

    usage = dataset("usage_details").to_table(columns=["billing_period", "cost"])
    assert str(usage.schema.field("cost").type) == "decimal128(38, 12)", usage.schema
    grouped = usage.group_by("billing_period").aggregate([("cost", "sum"), ("cost", "count")])
    out = {}
    for row in grouped.to_pylist():
        out[str(row["billing_period"])] = [row["cost_count"], str(row["cost_sum"])]
    market = pc.sum(dataset("marketplace_charges").to_table(columns=["extended_cost"])["extended_cost"])
    return out, str(market.as_py())


def pandas_totals(lake):
    import pandas as pd

    usage = pd.read_parquet(f"{lake}/usage_details", columns=["billing_period", "cost"])
    out = {}
    for period, group in usage.groupby("billing_period", observed=True):
        # Exact: the values are decimal.Decimal objects, summed as such.
        total = sum((Decimal(v) for v in group["cost"]), Decimal(0))
        out[str(period)] = [len(group), str(total)]
    market = pd.read_parquet(f"{lake}/marketplace_charges", columns=["extended_cost"])
    return out, str(sum((Decimal(v) for v in market["extended_cost"]), Decimal(0)))


def spark_totals(lake):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("costlake-interop")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        # Partition values stay text, as the lake documents them.
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .getOrCreate()
    )
    try:
        usage = spark.read.parquet(f"{lake}/usage_details")
        assert dict(usage.dtypes)["cost"] == "decimal(38,12)", usage.dtypes
        usage.createOrReplaceTempView("usage_details")
        spark.read.parquet(f"{lake}/marketplace_charges").createOrReplaceTempView("marketplace_charges")
        rows = spark.sql(
            "SELECT billing_period, count(*) AS n, sum(cost) AS c FROM usage_details GROUP BY 1 ORDER BY 1"
        ).collect()
        market = spark.sql("SELECT sum(extended_cost) AS m FROM marketplace_charges").collect()[0]["m"]
        return {str(r["billing_period"]): [r["n"], str(r["c"])] for r in rows}, str(market)
    finally:
        spark.stop()


def normalise(text):
    """Decimal text without trailing zeros, so engines that print scale 12 and those that
    print fewer digits compare equal."""
    d = Decimal(text)
    return format(d.normalize(), "f") if d != 0 else "0"


if __name__ == "__main__":
    engine, lake = sys.argv[1], sys.argv[2]
    usage, market = {
        "duckdb": duckdb_totals,
        "pyarrow": pyarrow_totals,
        "pandas": pandas_totals,
        "spark": spark_totals,
    }[engine](lake)
    print(json.dumps({
        "usage": {p: [n, normalise(c)] for p, (n, c) in usage.items()},
        "marketplace": normalise(market),
    }))
