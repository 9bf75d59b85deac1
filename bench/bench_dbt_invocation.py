"""dbt's own start-up: `dbt build` of the shop models as a subprocess (what dagster-dbt starts) against
dbt's in-process runner (`dbtRunner`), on the same warehouse, alternated run by run.

    uv run python bench/bench_dbt_invocation.py [--runs 5] [--day 2025-02-01]

Builds a one-day shop warehouse first with `shopflow demo` (embedded defaults, not timed), then times
`dbt build --select path:models/*/shop` both ways with the partition window of that day, keeping dbt's
partial parse (target/partial_parse.msgpack) as the runs do. In process, dbt-core is imported once
(timed apart): a Dagster step that runs dbt has already imported it, since dagster-dbt's definition is
built there. Figures go to bench/out/dbt_invocation.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Figure, record

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SELECT = ["--select", "path:models/staging/shop", "path:models/intermediate/shop", "path:models/marts/shop"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2025, 2, 1))
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="shopflow-dbt-bench-"))
    env = {**os.environ, "SHOPFLOW_HOME": str(home), "SHOPFLOW_ENV": "local", "SHOPFLOW_WARM_DRIVER": "off"}
    env.pop("SPARK_REMOTE", None)
    print("building a one-day warehouse with shopflow demo (not timed) ...", flush=True)
    demo = subprocess.run(
        [str(BIN / "shopflow"), "demo", "--days", "1", "--end", args.day.isoformat(), "--scale", "0.1"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    if demo.returncode != 0:
        raise SystemExit(
            f"bench_dbt_invocation: shopflow demo failed:\n{(demo.stdout + demo.stderr)[-3000:]}"
        )
    os.environ.update(env)
    from shopflow_assets.domains.dbt import partition_env
    from shopflow_assets.resources.warehouse import dbt_env, ensure_extension_directory
    from shopflow_assets.settings import reload_settings

    settings = reload_settings()
    ensure_extension_directory(settings)
    dbt_vars = {**env, **dbt_env(settings), **partition_env(args.day, args.day + dt.timedelta(days=1))}
    common = ["build", "--project-dir", "dbt_project", "--profiles-dir", "dbt_project", *SELECT]
    started = time.perf_counter()
    from dbt.cli.main import dbtRunner

    import_seconds = time.perf_counter() - started
    os.environ.update(dbt_vars)
    os.chdir(PROJECT_ROOT)

    def in_process() -> None:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        try:
            result = dbtRunner().invoke(common)
        finally:
            # dbt-duckdb keeps the warehouse open (and locked to every other process) in a class-level
            # environment until told to close it: a step running dbt in process must do the same.
            DuckDBConnectionManager.close_all_connections()
        if not result.success:
            raise SystemExit(f"bench_dbt_invocation: in-process dbt build failed: {result.exception}")

    def as_subprocess() -> None:
        result = subprocess.run([str(BIN / "dbt"), *common], env=dbt_vars, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(
                f"bench_dbt_invocation: dbt build failed:\n{(result.stdout + result.stderr)[-3000:]}"
            )

    ways = {"subprocess": as_subprocess, "in_process": in_process}
    timings: dict[str, list[float]] = {way: [] for way in ways}
    for index in range(args.runs * 2):
        way = list(ways)[index % 2]
        started = time.perf_counter()
        ways[way]()
        seconds = time.perf_counter() - started
        timings[way].append(seconds)
        print(f"  dbt build ({way:<10}) {seconds:6.1f} s", flush=True)

    sub, inproc = statistics.median(timings["subprocess"]), statistics.median(timings["in_process"])
    record(
        "dbt_invocation",
        [
            Figure("dbt build shop models, subprocess (median)", sub, "s"),
            Figure("dbt build shop models, dbtRunner in process (median)", inproc, "s"),
            Figure("import dbt-core in process (once per step process)", import_seconds, "s"),
            Figure("in-process / subprocess", inproc / sub, "ratio"),
        ],
        runs=timings,
        day=args.day.isoformat(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
