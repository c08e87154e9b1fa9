"""costlake against what users would use instead, on one machine, in one run; writes
benches/RESULTS.md. Run through benches/compare.sh, which builds and installs what this needs.

Environment (defaults in brackets): ROWS [1000000] usage rows of JSON for the ingest race;
LAKE_PERIODS [12] × LAKE_ROWS [200000] for the query lake; RSS_SIZES ["1000000 5000000"] period
sizes whose sync memory is compared; EXPORT_SIZES ["1000000 5000000"] month sizes of the
Cost Management export ingest; REPEATS [3] timed runs per measurement (the median is kept);
QUERY_REPEATS [11] runs of each saved query (they take milliseconds, and vary by half from run
to run on a shared machine);
BUDGET_PERIODS [12] × BUDGET_ROWS [1000000] for the memory budget of a whole run (`budget`);
SCALE_PERIODS [10] × SCALE_ROWS [2000000] for the five standard analyses as fresh processes
against the DuckDB CLI (`scale`);
SECTIONS ["ingest sync repl queries exports arm budget scale"] which to run: each section's figures are kept in
benches/results.json, so one section can be measured again and RESULTS.md rewritten from all.
"""
import csv
import decimal
import io
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target/release/costlake"
EXAMPLE = ROOT / "target/release/examples/ingest_json"
PY = ROOT / ".test-tools/venv/bin/python"
ROWS = int(os.environ.get("ROWS", 1_000_000))
LAKE_PERIODS = int(os.environ.get("LAKE_PERIODS", 12))
LAKE_ROWS = int(os.environ.get("LAKE_ROWS", 200_000))
RSS_SIZES = [int(x) for x in os.environ.get("RSS_SIZES", "1000000 5000000").split()]
REPEATS = int(os.environ.get("REPEATS", 3))
QUERY_REPEATS = int(os.environ.get("QUERY_REPEATS", 11))
EXPORT_SIZES = [int(x) for x in os.environ.get("EXPORT_SIZES", "1000000 5000000").split()]
ARM_SIZES = [int(x) for x in os.environ.get("ARM_SIZES", "1000000 5000000").split()]
BUDGET_PERIODS = int(os.environ.get("BUDGET_PERIODS", 12))
BUDGET_ROWS = int(os.environ.get("BUDGET_ROWS", 1_000_000))
SCALE_PERIODS = int(os.environ.get("SCALE_PERIODS", 10))
SCALE_ROWS = int(os.environ.get("SCALE_ROWS", 2_000_000))
SECTIONS = os.environ.get("SECTIONS", "ingest sync repl queries exports arm budget scale").split()
# The DuckDB command-line shell (the `duckdb-cli` wheel compare.sh installs), run as its own
# binary: its Python launcher would add an interpreter's start-up to every run.
DUCKDB_CLI = next(iter(sorted((ROOT / ".test-tools/venv/lib").glob("python*/site-packages/duckdb_cli/duckdb"))), None)
SAVED = ROOT / "benches/results.json"
DEMO_KEY = "costlake-demo-key-0000000000000000"
# The emulated tenant's service principal (costlake_emulator::DEMO_TENANT and friends).
DEMO_TENANT = "c0571a4e-0000-4000-8000-000000000001"
DEMO_CLIENT_ID = "c0571a4e-0000-4000-8000-0000000000c1"
DEMO_CLIENT_SECRET = "costlake-demo-secret-00000000000000"


def run(cmd, env=None, stdin=None):
    """Runs a command to completion; returns (seconds, None, stdout, stderr)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        input=stdin if stdin is not None else b"",
        env={**os.environ, **(env or {})},
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{cmd} failed:\n{proc.stdout.decode()}\n{proc.stderr.decode()}")
    return seconds, None, proc.stdout.decode(), proc.stderr.decode()


def measured(cmd, env=None, stdin=None, repeats=REPEATS):
    """Median seconds and the largest peak RSS over `repeats` runs."""
    times, peaks, last = [], [], None
    for _ in range(repeats):
        s, rss, out, err = run_rss(cmd, env, stdin)
        times.append(s)
        peaks.append(rss)
        last = out
    return statistics.median(times), max(peaks), last


def run_rss(cmd, env=None, stdin=None):
    """Like run, with the peak RSS from /usr/bin/time (exact for that one process)."""
    s, _, out, err = run(["/usr/bin/time", "-f", "maxrss_kb=%M", *cmd], env, stdin)
    rss = int(re.findall(r"maxrss_kb=(\d+)", err)[-1]) / 1024
    return s, rss, out, err


# DuckDB reading exactly the run's parts and writing one zstd Parquet file, as costlake does.
DUCKDB_CSV = """
import duckdb, json, sys
parts = json.loads(sys.argv[1])
duckdb.connect().execute(
    f"COPY (SELECT * FROM read_csv({parts!r}, header = true, dateformat = '%m/%d/%Y')) "
    f"TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)")
"""
DUCKDB_PARQUET = """
import duckdb, json, sys
parts = json.loads(sys.argv[1])
duckdb.connect().execute(
    f"COPY (SELECT * FROM read_parquet({parts!r})) TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)")
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator(periods, rows, last="202412"):
    """The emulator on a free port; `last=None` ends its months with the current one."""
    port = free_port()
    proc = subprocess.Popen(
        [BIN, "emulate", "--port", str(port), "--periods", str(periods), "--rows-per-period", str(rows)]
        + (["--last-period", last] if last else []),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    sys.exit("the emulator did not start")


def sync(base, lake):
    return run_rss([BIN, "sync", "--enrollment", "100", "--api-base", base, "--lake", lake,
                    "--quiet", "--jobs", "2"], {"COSTLAKE_API_KEY": DEMO_KEY})


# The usual script, with the fix users reach for once the API's mixed types (a boolean that is
# sometimes "False", an id that is sometimes a string) stop to_parquet: object columns as text.
PANDAS_SCRIPT = """
import json, sys, pandas as pd
rows = json.load(open(sys.argv[1]))
df = pd.json_normalize(rows)
for c in df.columns[df.dtypes == object]:
    df[c] = df[c].astype("string")
df.to_parquet(sys.argv[2], compression="zstd")
print(len(rows))
"""

DUCKDB_INGEST = """
import duckdb, sys
duckdb.sql(f"COPY (SELECT * FROM read_json('{sys.argv[1]}', format='array')) TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)")
"""

DUCKDB_QUERY = """
import duckdb, sys, time
views, sql = sys.argv[1], sys.stdin.read()
con = duckdb.connect()
for view in views.splitlines():
    con.execute(view)
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    rows = con.execute(sql).fetchall()
    times.append(time.perf_counter() - started)
print(times[-1] if len(times) == 1 else sorted(times[1:])[len(times[1:]) // 2], len(rows))
"""

def duckdb_views(lake, tables):
    """DuckDB statements that make each of the lake's `tables` a view over its files, partition
    columns as text (as costlake has them), one statement a line."""
    return "".join(
        f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{lake}/{t}/*/*/*.parquet', "
        "hive_partitioning = true, hive_types_autocast = false);\n"
        for t in tables)


# What costlake's `focus` and `prices` views read.
VIEW_SOURCES = ["usage_details", "marketplace_charges", "price_sheet", "balance_summary",
                "cost_details", "focus_costs", "export_price_sheet"]


def duckdb_costlake_views(lake, scratch):
    """DuckDB statements, one a line, that give it costlake's own `focus` and `prices` views over
    the lake: the tables the lake holds as views over their files, the others as an empty file
    of the same columns written by costlake, then the views' SQL as costlake stores it, with a
    macro for each function DuckDB lacks or spells otherwise (every `arrow_cast` there makes a
    UTC timestamp)."""
    held = [t for t in VIEW_SOURCES if (Path(lake) / t).is_dir()]
    out = duckdb_views(lake, held)
    for t in VIEW_SOURCES:
        if t not in held:
            empty = Path(scratch) / f"empty-{t}.parquet"
            run([BIN, "sql", "--lake", lake, "--format", "parquet", "--output", str(empty),
                 f"SELECT * FROM {t} LIMIT 0"])
            out += f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{empty}');\n"
    out += ("CREATE MACRO unit_block_size(u) AS "
            "coalesce(try_cast(replace(regexp_extract(u, '^[0-9][0-9,]*'), ',', '') AS BIGINT), 1);\n")
    out += "CREATE MACRO arrow_cast(x, t) AS CAST(x AS TIMESTAMPTZ);\n"
    out += "CREATE MACRO to_date(s, f) AS CAST(strptime(s, f) AS DATE);\n"
    for view in ["focus", "prices"]:
        _, _, text, _ = run([BIN, "sql", "--lake", lake, "--format", "csv",
                             f"SELECT definition FROM information_schema.views WHERE table_name = '{view}'"])
        definition = list(csv.reader(io.StringIO(text)))[1][0]
        out += " ".join(definition.split()) + ";\n"
    # Nothing in the bench lake was ever replaced: its `previous` schema is the lake itself,
    # as costlake's is then (`changed_costs` reads `previous.focus`).
    out += "CREATE SCHEMA previous;\nCREATE VIEW previous.focus AS SELECT * FROM main.focus;\n"
    return out


# Saved-query text made DuckDB's: parameters as literals, and the few functions named otherwise.
PARAMS = {"$period": "'202412'", "$top": "20", "$key": "'env'", "$threshold": "0.25", "$cost": "'billed'", "$min_change": "10",
          "$from": "'202411'", "$to": "'202412'", "$trailing": "3", "$months": "12"}
DUCKDB_SPELLING = [
    ("to_char(", "strftime("),
    ("to_date(", "strptime("),
    ("SELECT value AS k FROM generate_series(1, 120) WHERE value <=",
     "SELECT generate_series AS k FROM generate_series(1, 120) WHERE generate_series <="),
]


def duckdb_sql(sql):
    for k in sorted(PARAMS, key=len, reverse=True):
        sql = re.sub(re.escape(k) + r"\b", PARAMS[k], sql)
    for a, b in DUCKDB_SPELLING:
        sql = sql.replace(a, b)
    return sql


def query_times(lake, views, name, text):
    params = [a for k, v in PARAMS.items() if re.search(re.escape(k) + r"\b", text)
              for a in ("-p", f"{k[1:]}={v.strip(chr(39))}")]
    # Warm, in one session as DuckDB's are: the REPL runs the query QUERY_REPEATS + 1 times.
    run_line = " ".join(["\\run", name, *params[1::2]])
    script = "\\timing\n" + (run_line + "\n") * (QUERY_REPEATS + 1) + "\\q\n"
    _, _, _, err = run([BIN, "--lake", lake], stdin=script.encode())
    times = [float(t) for t in re.findall(r"rows in ([0-9.]+) s", err)]
    if len(times) != QUERY_REPEATS + 1:
        sys.exit(f"{name}: the REPL printed {len(times)} timings: {err[-300:]}")
    mine = statistics.median(times[1:])
    _, _, out, _ = run([PY, "-c", DUCKDB_QUERY, views, str(QUERY_REPEATS + 1)],
                       stdin=duckdb_sql(text).encode())
    theirs = float(out.split()[0])
    return mine, theirs


# The five standard analyses, as a user types them once, over every period of the lake.
SCALE_ANALYSES = {
    "cost by department, all periods":
        "SELECT department_name, sum(cost) AS cost FROM usage_details GROUP BY department_name ORDER BY cost DESC",
    "top resources":
        "SELECT instance_id, sum(cost) AS cost FROM usage_details GROUP BY instance_id ORDER BY cost DESC, instance_id LIMIT 20",
    "daily trend, all periods":
        "SELECT date, sum(cost) AS cost FROM usage_details GROUP BY date ORDER BY date",
    "usage × price sheet":
        "SELECT p.unit_of_measure, count(*) AS usage_rows, sum(u.consumed_quantity * p.unit_price) AS list_cost, "
        "sum(u.cost) AS cost FROM usage_details u JOIN price_sheet p "
        "ON p.meter_id = u.meter_id AND p.billing_period = u.billing_period "
        "GROUP BY p.unit_of_measure ORDER BY p.unit_of_measure",
    "one subscription across periods":
        "SELECT billing_period, sum(cost) AS cost, count(*) AS usage_rows FROM usage_details "
        "WHERE subscription_guid = '{subscription}' GROUP BY billing_period ORDER BY billing_period",
}


def duckdb_cli_script(lake, sql):
    """The DuckDB shell's input: the lake's tables as views over the same files, then `sql`."""
    return duckdb_views(lake, ["usage_details", "price_sheet"]) + sql + ";\n"


def same_answer(a, b):
    """Whether two CSV answers hold the same values (numbers compared as decimals: costlake
    prints `12.5`, DuckDB `12.500000000000`)."""
    def cells(text):
        return [[number(c) for c in row] for row in csv.reader(io.StringIO(text))]

    def number(cell):
        try:
            return decimal.Decimal(cell)
        except decimal.InvalidOperation:
            return cell
    return cells(a) == cells(b)


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001 - only for the report
        return f"unknown ({e})"


def main():
    work = Path(tempfile.mkdtemp(prefix="costlake-compare-"))
    saved = json.loads(SAVED.read_text()) if SAVED.exists() else {}
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    versions = {
        "costlake": version(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
        "rustc": version(["rustc", "--version"]),
        "duckdb": version([PY, "-c", "import duckdb; print(duckdb.__version__)"]),
        "pandas": version([PY, "-c", "import pandas; print(pandas.__version__)"]),
        "pyarrow": version([PY, "-c", "import pyarrow; print(pyarrow.__version__)"]),
        "python": platform.python_version(),
        "duckdb CLI": version([DUCKDB_CLI, "--version"]) if DUCKDB_CLI else "not installed",
    }
    print("versions:", versions, flush=True)

    def keep(section, figures):
        """Keeps a section's figures with the versions and sizes they were measured at."""
        saved[section] = {"figures": figures, "versions": versions, "date": time.strftime("%Y-%m-%d"),
                          "sizes": {"ROWS": ROWS, "LAKE_PERIODS": LAKE_PERIODS, "LAKE_ROWS": LAKE_ROWS,
                                    "RSS_SIZES": RSS_SIZES, "EXPORT_SIZES": EXPORT_SIZES, "REPEATS": REPEATS,
                                    "QUERY_REPEATS": QUERY_REPEATS}}
        SAVED.write_text(json.dumps(saved, indent=1))

    # 1. Ingest: the same usage JSON four ways.
    if "ingest" in SECTIONS:
        data = work / "usage.json"
        _, _, out, _ = run([EXAMPLE, "generate", ROWS, data])
        size = json.loads(out)["bytes"]
        print(f"ingest input: {ROWS} rows, {size / 1e6:.0f} MB", flush=True)
        ingest = {}
        for name, cmd in [
            ("costlake (decode + Parquet)", lambda i: [EXAMPLE, "costlake", data, work / f"lake{i}"]),
            ("serde_json parse only (floor)", lambda i: [EXAMPLE, "parse", data]),
            ("DuckDB read_json + COPY", lambda i: [PY, "-c", DUCKDB_INGEST, data, work / f"duck{i}.parquet"]),
            ("pandas json_normalize + to_parquet", lambda i: [PY, "-c", PANDAS_SCRIPT, data, work / f"pd{i}.parquet"]),
        ]:
            times, peaks = [], []
            for i in range(REPEATS if "pandas" not in name else 1):
                s, rss, _, _ = run_rss(cmd(i))
                times.append(s)
                peaks.append(rss)
            ingest[name] = (statistics.median(times), max(peaks))
            print(name, ingest[name], flush=True)
        keep("ingest", {"rows": ROWS, "size": size, "paths": ingest})

    # 2. Sync from the local emulator: the query lake, and memory at two period sizes.
    lake = work / "lake"
    if {"sync", "repl", "queries"} & set(SECTIONS):
        emu, base = emulator(LAKE_PERIODS, LAKE_ROWS)
        sync_s, sync_rss, _, _ = sync(base, str(lake))
        emu.terminate()
        print("sync", sync_s, sync_rss, flush=True)
    if "sync" in SECTIONS:
        rss_by_size = {}
        for rows in RSS_SIZES:
            emu, base = emulator(1, rows)
            s, rss, _, _ = sync(base, str(work / f"rss{rows}"))
            emu.terminate()
            rss_by_size[rows] = (s, rss)
            print("sync rss", rows, s, rss, flush=True)
        keep("sync", {"lake_s": sync_s, "lake_rss": sync_rss, "by_size": rss_by_size})

    # 3. REPL start-up on the 60-partition lake, to a clean exit.
    if "repl" in SECTIONS:
        repl_s, repl_rss, _ = measured([BIN, "--lake", lake], stdin=b"\\q\n", repeats=5)
        keep("repl", {"s": repl_s, "rss": repl_rss})

    # 4. Each saved query, costlake against DuckDB on the same files.
    if "queries" in SECTIONS:
        queries = {}
        # DuckDB's views of the lake, made once for every query.
        views = duckdb_costlake_views(str(lake), work)
        for f in sorted((ROOT / "queries").glob("*.sql")):
            text = f.read_text()
            try:
                queries[f.stem] = query_times(str(lake), views, f.stem, text)
            except SystemExit as e:
                queries[f.stem] = (None, str(e).splitlines()[0][:120])
            print(f.stem, queries[f.stem], flush=True)
        keep("queries", queries)

    # 5. Cost Management exports: one month of actual cost as gzip CSV parts and as typed
    # Parquet parts (the same rows), into the lake, and DuckDB reading the same parts into
    # one zstd Parquet file; costlake and DuckDB runs interleaved, the median of each kept.
    if "exports" in SECTIONS:
        exports = {}
        for rows in EXPORT_SIZES:
            exports[rows] = {}
            for fmt, pattern, script in [("gzip", "*.csv.gz", DUCKDB_CSV),
                                         ("parquet", "*.parquet", DUCKDB_PARQUET)]:
                tree = work / f"exports{rows}{fmt}"
                run([BIN, "emulate", "--exports", tree, "--periods", 1, "--last-period", "202401",
                     "--rows-per-period", rows, "--export-types", "ActualCost",
                     "--part-rows", 250000, "--export-format", fmt])
                parts = sorted(str(p) for p in tree.rglob(f"daily-actual/**/{pattern}"))
                part_bytes = sum(Path(p).stat().st_size for p in parts)
                mine, duck = [], []
                for _ in range(REPEATS):
                    shutil.rmtree(work / "xlake", ignore_errors=True)
                    s, rss, out, _ = run_rss([BIN, "ingest", "--source", tree, "--lake", work / "xlake",
                                              "--datasets", "cost_details"])
                    assert "1 partitions ingested" in out, out
                    mine.append((s, rss))
                    duck.append(run_rss([PY, "-c", script, json.dumps(parts), work / "xduck.parquet"])[:2])
                exports[rows][fmt] = (statistics.median(m[0] for m in mine), max(m[1] for m in mine),
                                      statistics.median(d[0] for d in duck), max(d[1] for d in duck),
                                      part_bytes)
                print("exports", rows, fmt, exports[rows][fmt], flush=True)
                shutil.rmtree(tree)
        keep("exports", exports)

    # 6. The Cost Management APIs: one month (actual and amortized cost details, so twice the
    # month's rows) through `sync --billing-account`, signed in to the emulated tenant.
    if "arm" in SECTIONS:
        arm = {}
        for rows in ARM_SIZES:
            emu, base = emulator(1, rows, last=None)
            s, rss, out, err = run_rss(
                [BIN, "sync", "--billing-account", "100", "--arm-base", base, "--lake", work / f"arm{rows}",
                 "--datasets", "cost_details", "--jobs", "2"],
                {"AZURE_AUTHORITY_HOST": base, "AZURE_TENANT_ID": DEMO_TENANT,
                 "AZURE_CLIENT_ID": DEMO_CLIENT_ID, "AZURE_CLIENT_SECRET": DEMO_CLIENT_SECRET})
            emu.terminate()
            assert "2 fetched" in out + err, out + err
            arm[rows] = (s, rss)
            print("arm", rows, arm[rows], flush=True)
        keep("arm", arm)

    # 7. One memory budget for a whole run: default flags (four units at once for sync, one
    # per core for ingest), one period against many.
    if "budget" in SECTIONS:
        budget = {}
        for periods in [1, BUDGET_PERIODS]:
            emu, base = emulator(periods, BUDGET_ROWS)
            s, rss, _, _ = run_rss([BIN, "sync", "--enrollment", "100", "--api-base", base,
                                    "--lake", work / f"budget-sync{periods}", "--quiet",
                                    "--datasets", "usage_details"], {"COSTLAKE_API_KEY": DEMO_KEY})
            emu.terminate()
            tree = work / f"budget-tree{periods}"
            run([BIN, "emulate", "--exports", tree, "--periods", periods, "--last-period", "202412",
                 "--rows-per-period", BUDGET_ROWS, "--export-types", "ActualCost", "--part-rows", 500000])
            xs, xrss, out, _ = run_rss([BIN, "ingest", "--source", tree, "--lake", work / f"budget-x{periods}",
                                        "--datasets", "cost_details"])
            assert f"{periods} partitions ingested" in out, out
            shutil.rmtree(tree)
            budget[periods] = (s, rss, xs, xrss)
            print("budget", periods, budget[periods], flush=True)
        keep("budget", {"rows": BUDGET_ROWS, "by_periods": budget})

    # 8. Scale: a lake of SCALE_PERIODS × SCALE_ROWS usage rows (and the price sheet), then the
    # five standard analyses, each as a fresh process, costlake's `sql` against the DuckDB
    # shell on the same files, runs interleaved, both answers printed as CSV and compared.
    if "scale" in SECTIONS:
        if DUCKDB_CLI is None:
            sys.exit("the scale section needs the DuckDB shell: run it through benches/compare.sh")
        emu, base = emulator(SCALE_PERIODS, SCALE_ROWS)
        big = work / "scale-lake"
        sync_s, sync_rss, _, _ = run_rss([BIN, "sync", "--enrollment", "100", "--api-base", base,
                                          "--lake", big, "--quiet", "--datasets", "usage_details,price_sheet"],
                                         {"COSTLAKE_API_KEY": DEMO_KEY})
        emu.terminate()
        print("scale sync", sync_s, sync_rss, flush=True)
        _, _, out, _ = run([BIN, "sql", "--lake", big, "--format", "csv",
                            "SELECT subscription_guid FROM usage_details GROUP BY subscription_guid "
                            "ORDER BY count(*) DESC, subscription_guid LIMIT 1"])
        subscription = out.splitlines()[1]
        scale = {}
        for name, sql in SCALE_ANALYSES.items():
            sql = sql.format(subscription=subscription)
            mine, duck = [], []
            for _ in range(REPEATS):
                s, rss, out, _ = run_rss([BIN, "sql", "--lake", big, "--format", "csv", sql])
                mine.append((s, rss, out))
                ds, drss, dout, _ = run_rss([DUCKDB_CLI, "-csv", "-bail"],
                                            stdin=duckdb_cli_script(big, sql).encode())
                duck.append((ds, drss, dout))
            assert same_answer(mine[0][2], duck[0][2]), f"{name}: the answers differ"
            rows = len(mine[0][2].splitlines())
            scale[name] = (statistics.median(m[0] for m in mine), max(m[1] for m in mine),
                           statistics.median(d[0] for d in duck), max(d[1] for d in duck), rows - 1)
            print("scale", name, scale[name], flush=True)
        keep("scale", {"periods": SCALE_PERIODS, "rows": SCALE_ROWS, "sync_s": sync_s,
                       "sync_rss": sync_rss, "analyses": scale})

    write_report(cpu, mem, saved)
    shutil.rmtree(work)


def targets(saved):
    """Each of the targets the performance work set, with what was measured against it."""
    ingest = saved["ingest"]["figures"]["paths"]
    mine = ingest["costlake (decode + Parquet)"][0]
    duck = ingest["DuckDB read_json + COPY"][0] / mine
    pandas = ingest["pandas json_normalize + to_parquet"][0] / mine
    floor = mine / ingest["serde_json parse only (floor)"][0]
    by_size = sorted((int(k), v) for k, v in saved["sync"]["figures"]["by_size"].items())
    (small, (_, small_rss)), (large, (_, large_rss)) = by_size[0], by_size[-1]
    ratios = {name: a / b for name, (a, b) in saved["queries"]["figures"].items() if a is not None}
    worst = max(ratios, key=ratios.get)
    within = sum(r <= 1.5 for r in ratios.values())
    partitions = saved["sync"]["sizes"]["LAKE_PERIODS"] * 5
    repl_ms = saved["repl"]["figures"]["s"] * 1000
    arm = sorted((int(k), v) for k, v in saved.get("arm", {}).get("figures", {}).items())
    arm_targets = [
        (f"Cost Management sync of a {arm[-1][0]:,}-row month under 300 MB",
         f"{arm[-1][1][1]:.0f} MB", arm[-1][1][1] < 300),
    ] if arm else []
    budget = saved.get("budget", {}).get("figures")
    if budget:
        rows = budget["rows"]
        (one, one_fig), (many, many_fig) = sorted((int(k), v) for k, v in budget["by_periods"].items())
        for name, rss_at in [("sync", 1), ("ingest", 3)]:
            top, base = many_fig[rss_at], one_fig[rss_at]
            arm_targets.append((
                f"default-flag {name} of {many} periods × {rows:,} rows: at most 300 MB, at most 10% above one period",
                f"{top:.0f} MB; one period {base:.0f} MB (+{100 * (top / base - 1):.0f}%)",
                top <= 300 and top <= 1.1 * base))
    export_targets = []
    exports = sorted((int(k), v) for k, v in saved["exports"]["figures"].items())
    if exports and isinstance(exports[0][1], dict):
        rows, by_format = exports[0]
        for fmt, label in [("parquet", "Parquet"), ("gzip", "gzip CSV")]:
            if fmt in by_format:
                s, _, ds, _, _ = by_format[fmt]
                export_targets.append((f"{label} export parts ({rows:,} rows) at least 2× DuckDB's throughput",
                                       f"{ds / s:.2f}×", ds / s >= 2))
    scale_targets = []
    scale = saved.get("scale", {}).get("figures")
    if scale:
        slowest = max(scale["analyses"], key=lambda n: scale["analyses"][n][0] / scale["analyses"][n][2])
        a = scale["analyses"][slowest]
        scale_targets.append((
            f"each of the five standard analyses on {scale['periods'] * scale['rows']:,} rows, as a fresh "
            "process, no slower than the DuckDB shell",
            f"slowest {slowest}: {a[0] / a[2]:.2f}× DuckDB's wall time", a[0] <= a[2]))
    return arm_targets + export_targets + scale_targets + [
        ("JSON ingest at least 2× DuckDB's throughput", f"{duck:.2f}×", duck >= 2),
        ("JSON ingest at least 5× the pandas script's", f"{pandas:.1f}×", pandas >= 5),
        ("JSON ingest within 1.5× of the parse-only floor", f"{floor:.2f}× the floor's time", floor <= 1.5),
        (f"sync of a {large:,}-row period under 300 MB, flat from {small:,}",
         f"{large_rss:.0f} MB ({small_rss:.0f} MB at {small:,})", large_rss < 300),
        ("every saved query within 1.5× DuckDB",
         f"{within} of {len(ratios)}; slowest {worst} {ratios[worst]:.2f}×", within == len(ratios)),
        ("no saved query over 2× DuckDB", f"slowest {ratios[worst]:.2f}×", ratios[worst] <= 2),
        (f"REPL start-up on {partitions} partitions under 150 ms", f"{repl_ms:.0f} ms", repl_ms < 150),
    ]


def cluster_section(saved):
    """The "Cluster" section from what benches/cluster.py kept, if it ran."""
    if not saved:
        return []
    f, z = saved["figures"], saved["sizes"]
    lines = [
        "",
        "## Cluster: one process against Ballista executors",
        "",
        f"Written by `benches/cluster.sh` on {saved['date']} at {saved['versions']['costlake']}: a lake of "
        f"{f['rows']:,} usage rows ({z['CLUSTER_PERIODS']} periods), each "
        f"statement as a fresh process, best of {z['CLUSTER_REPEATS']}. Each executor runs "
        f"{z['CLUSTER_CONCURRENCY']} task(s) at once; the scheduler, the executors and the client share "
        "this machine's two cores, so the cluster columns measure what the cluster costs here, not "
        "what it gains on more machines (docs/cluster.md). Every answer equals the one process's.",
        "",
        "| statement | one process (s) | 1 executor (s) | 2 executors (s) | 2 executors ÷ 1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, t in f["statements"].items():
        one, two = t["1 executor"], t["2 executors"]
        lines.append(f"| {name} | {t['one process']:.2f} | {one:.2f} | {two:.2f} | {two / one:.2f} |")
    return lines


def write_report(cpu, mem, saved):
    if not all(k in saved for k in ["ingest", "sync", "repl", "queries", "exports"]):
        print("benches/results.json lacks some sections; run them all once to write RESULTS.md")
        return
    versions = saved["ingest"]["versions"]
    ROWS, size, ingest = saved["ingest"]["figures"]["rows"], saved["ingest"]["figures"]["size"], saved["ingest"]["figures"]["paths"]
    sync_s, sync_rss = saved["sync"]["figures"]["lake_s"], saved["sync"]["figures"]["lake_rss"]
    rss_by_size = {int(k): v for k, v in saved["sync"]["figures"]["by_size"].items()}
    repl_s, repl_rss = saved["repl"]["figures"]["s"], saved["repl"]["figures"]["rss"]
    queries = saved["queries"]["figures"]
    exports = {int(k): v for k, v in saved["exports"]["figures"].items()}
    LAKE_PERIODS, LAKE_ROWS = saved["sync"]["sizes"]["LAKE_PERIODS"], saved["sync"]["sizes"]["LAKE_ROWS"]
    measured_at = "; ".join(f"{k} on {v['date']} at {v['versions']['costlake']}" for k, v in saved.items())
    mine = ingest["costlake (decode + Parquet)"][0]
    lines = [
        "# costlake against the alternatives",
        "",
        f"Written by `benches/compare.sh` (or `benches/cluster.sh`) on {time.strftime('%Y-%m-%d')}. Machine: {os.cpu_count()} cores "
        f"({cpu}), {int(mem) / 1024 / 1024:.0f} GiB. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        f"Medians of {REPEATS} runs (pandas: one run) unless said otherwise; peak RSS is the "
        "largest of those runs, per process, from `/usr/bin/time`. Sections measured: "
        f"{measured_at}.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *[f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets(saved)],
        "",
        f"## Ingest: {ROWS:,} v3 usage rows, {size / 1e6:.0f} MB of JSON, to Parquet",
        "",
        "| path | seconds | rows/s | MB/s of JSON | peak RSS MB | costlake's throughput ÷ this |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, (s, rss) in ingest.items():
        lines.append(f"| {name} | {s:.2f} | {ROWS / s:,.0f} | {size / 1e6 / s:.0f} | {rss:.0f} | {s / mine:.2f} |")
    lines += [
        "",
        "DuckDB infers the money columns as DOUBLE from the JSON (floats, not exact); costlake "
        "writes `decimal(38,12)`. The pandas script is the usual `json.load` + `json_normalize` + "
        "`to_parquet`; as written first it fails on the API's mixed types "
        "(`chargesBilledSeparately` is `true` in some rows and `\"False\"` in others), so it "
        "casts object columns to text first, as users end up doing, and its money is floats too.",
        "",
        f"## Sync from the local emulator",
        "",
        f"{LAKE_PERIODS} periods × {LAKE_ROWS:,} usage rows (all five datasets, `--jobs 2`): "
        f"{sync_s:.1f} s, {LAKE_PERIODS * LAKE_ROWS / sync_s:,.0f} usage rows/s, peak RSS {sync_rss:.0f} MB. "
        "The emulator runs on the same two cores and renders every row as JSON, so it is part of "
        "what is timed.",
        "",
        "| one period of | seconds | rows/s | peak RSS MB |",
        "|---:|---:|---:|---:|",
    ]
    for rows, (s, rss) in rss_by_size.items():
        lines.append(f"| {rows:,} rows | {s:.1f} | {rows / s:,.0f} | {rss:.0f} |")
    lines += [
        "",
        "## Ingest of Cost Management exports",
        "",
        "One month of the emulated enrollment's actual-cost export (250,000-row parts, 59 "
        "columns) written twice, as gzip CSV (as Azure writes CSV exports) and as typed Parquet "
        "(`emulate --export-format parquet`: the same rows), into the lake with `costlake ingest`, "
        "and DuckDB reading exactly the run's parts (`read_csv` / `read_parquet`) + `COPY … TO` "
        "zstd Parquet, one process each, runs interleaved, medians of "
        f"{REPEATS}. DuckDB reads the CSV money as DOUBLE; costlake writes `decimal(38,12)`. As "
        "first written, DuckDB's `read_csv` fails on these files: it guesses `%d/%m/%Y` for the "
        "`MM/dd/yyyy` dates from the first days of the month and stops at the 13th, so it is "
        "given `dateformat`.",
        "",
        "| month of | parts | MB | costlake s | rows/s | peak RSS MB | DuckDB s | DuckDB peak RSS MB | DuckDB's time ÷ costlake's |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows, by_format in exports.items():
        for fmt, (s, rss, ds, drss, size) in by_format.items():
            label = {"gzip": "gzip CSV", "parquet": "Parquet"}[fmt]
            lines.append(f"| {rows:,} rows | {label} | {size / 1e6:.0f} | {s:.2f} | {rows / s:,.0f} | {rss:.0f} | {ds:.2f} | {drss:.0f} | {ds / s:.2f} |")
    arm = {int(k): v for k, v in saved.get("arm", {}).get("figures", {}).items()}
    if arm:
        lines += [
            "",
            "## Sync from the Cost Management APIs",
            "",
            "One month through `costlake sync --billing-account` against the emulator (signed in "
            "with the emulated tenant's client secret; `--datasets cost_details --jobs 2`): the "
            "actual and the amortized report, each polled, then its CSV blobs of 100,000 rows "
            "streamed into the lake, so twice the month's rows are written. The emulator renders "
            "every blob twice on the same two cores (once to list its size in the report's "
            "manifest, once to serve it), so it is a large part of what is timed. Beside it, "
            "`costlake ingest` of the same month's actual-cost export from the section above.",
            "",
            "| month of | seconds | rows written/s | peak RSS MB | ingest of the export: rows/s |",
            "|---:|---:|---:|---:|---:|",
        ]
        for rows, (s, rss) in arm.items():
            ingest_rate = f"{rows / exports[rows]['gzip'][0]:,.0f}" if rows in exports else "–"
            lines.append(f"| {rows:,} rows | {s:.1f} | {2 * rows / s:,.0f} | {rss:.0f} | {ingest_rate} |")
    budget = saved.get("budget", {}).get("figures")
    if budget:
        rows = budget["rows"]
        lines += [
            "",
            "## A whole run in one memory budget",
            "",
            f"Default flags (the default `--memory 256MB`; `sync` four units at once, `ingest` one per "
            f"core): `sync` of the usage of one and of many periods of {rows:,} rows from the emulator, "
            f"and `ingest` of as many months of the actual-cost export (gzip CSV parts of 500,000 rows).",
            "",
            "| periods | sync s | sync peak RSS MB | ingest s | ingest peak RSS MB |",
            "|---:|---:|---:|---:|---:|",
        ]
        for periods, (s, rss, xs, xrss) in sorted((int(k), v) for k, v in budget["by_periods"].items()):
            lines.append(f"| {periods} | {s:.1f} | {rss:.0f} | {xs:.1f} | {xrss:.0f} |")
    scale = saved.get("scale", {}).get("figures")
    if scale:
        lines += [
            "",
            f"## The standard analyses on {scale['periods'] * scale['rows']:,} rows, fresh processes",
            "",
            f"A lake of {scale['periods']} periods × {scale['rows']:,} usage rows and their price "
            f"sheets, synced from the emulator ({scale['sync_s']:.0f} s, peak RSS "
            f"{scale['sync_rss']:.0f} MB). Each analysis as one fresh process, as a script or a "
            "scheduled job runs it: `costlake sql --format csv` against the DuckDB shell "
            f"({saved['scale']['versions'].get('duckdb CLI', '?')}, `-csv`, the lake's tables as "
            "views over the same files with hive partitioning), wall time from process start to "
            f"exit, runs interleaved, medians of {REPEATS}; the two answers are checked equal, "
            "value for value. DuckDB sums the same `decimal(38,12)` columns exactly too.",
            "",
            "| analysis | rows out | costlake s | peak RSS MB | DuckDB s | DuckDB peak RSS MB | costlake ÷ DuckDB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, (s, rss, ds, drss, rows) in scale["analyses"].items():
            lines.append(f"| {name} | {rows:,} | {s:.2f} | {rss:.0f} | {ds:.2f} | {drss:.0f} | {s / ds:.2f} |")
    lines += [
        "",
        f"## REPL start-up",
        "",
        f"On the {LAKE_PERIODS * 5}-partition lake, `costlake --lake LAKE` to its prompt and a "
        f"clean `\\q`: {repl_s * 1000:.0f} ms (median of 5), peak RSS {repl_rss:.0f} MB.",
        "",
        f"## Saved queries: costlake against DuckDB on the same Parquet files",
        "",
        f"The lake above ({LAKE_PERIODS * LAKE_ROWS:,} usage rows). Each engine's own timing of "
        f"the statement in one warm session (costlake: `\\run` in the REPL with `\\timing`; "
        f"DuckDB: around `execute().fetchall()` on one connection), median of "
        f"{saved['queries']['sizes'].get('QUERY_REPEATS', REPEATS)} after one "
        f"discarded run. DuckDB runs the same SQL with parameters as "
        "literals, `strftime`/`strptime` for `to_char`/`to_date`, over costlake's own `focus` and "
        "`prices` views (their SQL read from `information_schema.views`, with `unit_block_size` "
        "and `arrow_cast` as macros).",
        "",
        "| query | costlake ms | DuckDB ms | costlake ÷ DuckDB |",
        "|---|---:|---:|---:|",
    ]
    for name, (a, b) in queries.items():
        if a is None:
            lines.append(f"| {name} | – | – | not compared: {b} |")
        else:
            lines.append(f"| {name} | {a * 1000:.0f} | {b * 1000:.0f} | {a / b:.2f} |")
    lines += cluster_section(saved.get("cluster"))
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        f"ROWS={ROWS} LAKE_PERIODS={LAKE_PERIODS} LAKE_ROWS={LAKE_ROWS} RSS_SIZES=\"{' '.join(map(str, RSS_SIZES))}\" REPEATS={REPEATS} benches/compare.sh",
        "SECTIONS=arm ARM_SIZES=\"1000000 5000000\" benches/compare.sh   # one section again",
        "SECTIONS=budget BUDGET_PERIODS=12 BUDGET_ROWS=1000000 benches/compare.sh",
        "SECTIONS=scale SCALE_PERIODS=10 SCALE_ROWS=2000000 benches/compare.sh",
        "CLUSTER_PERIODS=25 CLUSTER_ROWS=2000000 CLUSTER_REPEATS=1 benches/cluster.sh   # against a cluster",
        "cargo bench --bench decode",
        "cargo bench --bench queries",
        "```",
        "",
    ]
    (ROOT / "benches/RESULTS.md").write_text("\n".join(lines))
    print("wrote benches/RESULTS.md")


if __name__ == "__main__":
    main()
