"""One process against a Ballista cluster of one and of two executors, on one lake, in one run
(by hand, not in CI; run through benches/cluster.sh).

A lake of CLUSTER_PERIODS [25] × CLUSTER_ROWS [2000000] usage rows (and the enrollment's other
datasets) is synced from the emulator, then the five standard analyses of benches/compare.py, a
`focus` aggregate and `verify` run as fresh processes, best of CLUSTER_REPEATS [3]: in one process (`costlake sql`), then with
`--cluster` on a scheduler with one executor, then with two. Every answer is compared with the
one process's (exact decimals, same rows). Each executor runs CLUSTER_CONCURRENCY [1] tasks at
once, so that one and two executors hold one and two of this machine's cores; the scheduler
and the client share them. The figures are kept in benches/results.json ("cluster"), and
RESULTS.md is written again from every section, as benches/compare.py does.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import compare  # noqa: E402  (the emulator, the timing helpers, the five analyses)

PERIODS = int(os.environ.get("CLUSTER_PERIODS", 25))
ROWS = int(os.environ.get("CLUSTER_ROWS", 2_000_000))
CONCURRENCY = int(os.environ.get("CLUSTER_CONCURRENCY", 1))
REPEATS = int(os.environ.get("CLUSTER_REPEATS", 3))
# The release binary with the cluster feature (benches/cluster.sh builds it there).
BIN = compare.BIN = Path(os.environ.get("COSTLAKE_BIN", compare.BIN))
RESULTS = Path(__file__).parent / "RESULTS.md"

QUERIES = dict(compare.SCALE_ANALYSES)
QUERIES["focus by month and source"] = (
    'SELECT "x_BillingPeriod", "x_SourceDataset", count(*) AS charges, sum("BilledCost") AS billed '
    'FROM focus GROUP BY 1, 2 ORDER BY 1, 2'
)


def listening(port):
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def start_cluster(executors, work):
    port = compare.free_port()
    procs = [subprocess.Popen([BIN, "scheduler", "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=open(work / "scheduler.log", "w"))]
    listening(port)
    for n in range(executors):
        own = compare.free_port()
        procs.append(subprocess.Popen(
            [BIN, "executor", "--scheduler", f"127.0.0.1:{port}", "--bind", f"127.0.0.1:{own}",
             "--concurrency", str(CONCURRENCY), "--work-dir", str(work / f"executor-{executors}-{n}")],
            stdout=subprocess.DEVNULL, stderr=open(work / f"executor-{executors}-{n}.log", "w")))
        listening(own)
    time.sleep(2)  # the executors' first poll registers them
    return procs, f"df://127.0.0.1:{port}"


def timed(args):
    best = None
    out = None
    for _ in range(REPEATS):
        s, rss, text, _ = compare.run_rss(args)
        out = text
        best = s if best is None else min(best, s)
    return best, out


def main():
    work = Path(tempfile.mkdtemp(prefix="costlake-cluster-"))
    # CLUSTER_LAKE keeps the lake between runs (synced there when it does not exist yet).
    lake = Path(os.environ.get("CLUSTER_LAKE", work / "lake"))
    sync_s = None
    if not lake.exists():
        emu, base = compare.emulator(PERIODS, ROWS)
        sync_s, _, _, _ = compare.run_rss(
            [BIN, "sync", "--enrollment", "100", "--api-base", base, "--lake", lake, "--quiet"],
            {"COSTLAKE_API_KEY": compare.DEMO_KEY})
        emu.terminate()
        if "CLUSTER_LAKE" in os.environ:
            return print(f"synced {lake} in {sync_s:.0f} s")
    _, _, out, _ = compare.run([BIN, "sql", "--lake", lake, "--format", "csv",
                                "SELECT count(*) AS n FROM usage_details"])
    rows = int(out.splitlines()[1])
    print(f"lake: {rows:,} usage rows", flush=True)
    _, _, out, _ = compare.run([BIN, "sql", "--lake", lake, "--format", "csv",
                                "SELECT subscription_guid FROM usage_details GROUP BY subscription_guid "
                                "ORDER BY count(*) DESC, subscription_guid LIMIT 1"])
    subscription = out.splitlines()[1]

    statements = {name: ["sql", "--format", "csv", sql.format(subscription=subscription)]
                  for name, sql in QUERIES.items()}
    statements["verify"] = ["verify"]
    figures = {name: {} for name in statements}
    answers = {}
    for name, args in statements.items():
        s, out = timed([BIN, *args, "--lake", lake])
        figures[name]["one process"] = s
        answers[name] = out
        print(name, "one process", s, flush=True)
    for executors in (1, 2):
        procs, url = start_cluster(executors, work)
        try:
            for name, args in statements.items():
                s, out = timed([BIN, *args, "--lake", lake, "--cluster", url])
                assert out == answers[name], f"{name} on {executors} executor(s): the answers differ"
                figures[name][f"{executors} executor" + ("s" if executors > 1 else "")] = s
                print(name, executors, s, flush=True)
        finally:
            for p in procs:
                p.kill()
    keep(rows, sync_s, figures)
    shutil.rmtree(work, ignore_errors=True)


def keep(rows, sync_s, figures):
    """Keeps the figures in benches/results.json and rewrites RESULTS.md from all sections."""
    saved = json.loads(compare.SAVED.read_text()) if compare.SAVED.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    saved["cluster"] = {
        "figures": {"rows": rows, "sync_s": sync_s, "statements": figures},
        "versions": {"costlake": commit},
        "date": time.strftime("%Y-%m-%d"),
        "sizes": {"CLUSTER_PERIODS": PERIODS, "CLUSTER_ROWS": ROWS,
                  "CLUSTER_CONCURRENCY": CONCURRENCY, "CLUSTER_REPEATS": REPEATS},
    }
    compare.SAVED.write_text(json.dumps(saved, indent=1))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
    compare.write_report(cpu, mem, saved)


if __name__ == "__main__":
    main()
