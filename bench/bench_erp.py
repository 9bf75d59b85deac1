"""Freshness of the ERP flow: seconds from a committed OLTP change to its row in the warehouse, with the
automation running as in production (a `dagster-daemon` over the project's code location on a temporary
DAGSTER_HOME: the change sensor starts one erp_pipeline run: ingest, transform, load).

    uv run python bench/bench_erp.py [--changes 20] [--every 3]

Needs the services (`shopflow services up`); uses the real `totesys` and `warehouse` databases and the
MinIO lake (SHOPFLOW_ENV=docker for the daemon), filling totesys with `generate erp` first if it is empty.
Each change updates one sales order's price; it has arrived when the warehouse holds a fact_sales_order
row with that order's new last_updated. Prints median and max against the 60 s target and writes
bench/out/erp.json (bench/harness.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from harness import Figure, record

from shopflow_assets.cli.erp import connect
from shopflow_assets.datagen.erp import ErpSizes, ensure_source_schema, generate_erp, table_counts
from shopflow_assets.domains.erp import runner
from shopflow_assets.settings import PROJECT_ROOT, export_env_files

TARGET_SECONDS = 60.0


def _caught_up(warehouse) -> bool:
    """Every table has a watermark and no processed batch waits for its load."""
    runner.ensure_warehouse(warehouse)
    marks = runner.read_watermarks(warehouse)
    pending = warehouse.execute(
        "SELECT count(*) FROM erp_state.processed_batch WHERE loaded_at IS NULL"
    ).fetchone()[0]
    warehouse.commit()
    return len(marks) == 11 and pending == 0


def _alive(daemon: subprocess.Popen) -> None:
    if daemon.poll() is not None:
        raise SystemExit(f"bench_erp: dagster-daemon exited with {daemon.returncode}")


def _wait(predicate, timeout: float, what: str, poll: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise SystemExit(f"bench_erp: {what} did not happen within {timeout:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between two changes")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a change after this")
    args = parser.parse_args()

    with connect("owner", "source") as source:
        ensure_source_schema(source)
        source.commit()
        if not any(table_counts(source).values()):
            generate_erp(source, ErpSizes.for_scale(0.3))
            source.commit()

    export_env_files()
    home = Path(tempfile.mkdtemp(prefix="shopflow-bench-erp-"))
    env = {**os.environ, "DAGSTER_HOME": str(home), "SHOPFLOW_ENV": "docker"}
    log = open(home / "daemon.log", "wb")  # noqa: SIM115 - closed in finally
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m", "shopflow_assets.definitions"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    results: list[float] = []
    try:
        started = time.monotonic()
        # The clock starts when the automation runs: the daemon has loaded the code and ticked the sensor.
        _wait(
            lambda: _alive(daemon) or b"sensor: erp_change_sensor" in (home / "daemon.log").read_bytes(),
            args.timeout * 2,
            "the daemon's first erp_change_sensor tick",
        )
        print(f"daemon ready after {time.monotonic() - started:.0f}s", file=sys.stderr)
        with connect("owner", "warehouse") as warehouse:
            _wait(lambda: _caught_up(warehouse), args.timeout * 2, "the initial load")
        print(f"initial load caught up after {time.monotonic() - started:.0f}s", file=sys.stderr)

        pending: dict[int, tuple[object, float]] = {}
        with (
            connect("owner", "source", autocommit=True) as source,
            connect("owner", "warehouse") as warehouse,
        ):
            ids = [
                r[0]
                for r in source.execute(
                    "SELECT sales_order_id FROM sales_order ORDER BY sales_order_id LIMIT %s", (args.changes,)
                ).fetchall()
            ]
            next_change = time.monotonic()
            deadline = None
            while len(results) < len(ids):
                now = time.monotonic()
                if len(pending) + len(results) < len(ids) and now >= next_change:
                    order = ids[len(pending) + len(results)]
                    price = Decimal(f"{2 + (order % 100) / 100 + 0.5:.2f}")
                    updated = source.execute(
                        "UPDATE sales_order SET unit_price = %s WHERE sales_order_id = %s RETURNING last_updated",
                        (price, order),
                    ).fetchone()[0]
                    pending[order] = (updated, time.monotonic())
                    next_change = now + args.every
                    deadline = time.monotonic() + args.timeout
                for order, (updated, at) in list(pending.items()):
                    seen = warehouse.execute(
                        "SELECT 1 FROM erp.fact_sales_order WHERE sales_order_id = %s AND source_last_updated = %s",
                        (order, updated),
                    ).fetchone()
                    warehouse.commit()
                    if seen:
                        results.append(time.monotonic() - at)
                        del pending[order]
                        print(f"change {len(results):2d}: {results[-1]:5.1f}s", file=sys.stderr)
                if deadline and time.monotonic() > deadline and pending:
                    raise SystemExit(
                        f"bench_erp: {len(pending)} changes not in the warehouse after {args.timeout:.0f}s"
                    )
                _alive(daemon)
                time.sleep(0.2)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
        log.close()
        if results:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"daemon log kept in {home / 'daemon.log'}", file=sys.stderr)

    record(
        "erp",
        [
            Figure("freshness median", statistics.median(results), "s"),
            Figure("freshness max", max(results), "s", TARGET_SECONDS),
        ],
        changes=len(results),
        seconds=[round(r, 2) for r in results],
    )
    met = max(results) <= TARGET_SECONDS
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
