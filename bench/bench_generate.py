"""Rows/s of the generators: `generate shop` at 1M orders in one day (target: under 15 s) and
`generate olist` at scale 1 (the real Kaggle size). Files go to a temporary folder, removed after.
Usage: uv run python bench/bench_generate.py [--orders N] [--olist-scale S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

from shopflow_assets.datagen.olist import generate_olist
from shopflow_assets.datagen.shop import generate_shop_day


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(label: str, work) -> None:
    cpu, started = _cpu_seconds(), time.perf_counter()
    rows, detail = work()
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    print(f"{label}: {rows:,} rows in {wall:.2f} s -> {rows / wall:,.0f} rows/s (CPU {cpu:.2f} s); {detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--olist-scale", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shopflow-bench-") as tmp:
        out = Path(tmp)

        def shop():
            manifest = generate_shop_day(dt.date(2024, 1, 1), out / "shop", orders=args.orders)
            rows = sum(counts.rows for counts in manifest.files.values())
            return (
                rows,
                f"{manifest.files['Orders.csv'].rows:,} order rows (target: {args.orders:,} orders < 15 s)",
            )

        def olist():
            manifest = generate_olist(out / "olist", scale=args.olist_scale)
            return sum(
                manifest.rows.values()
            ), f"{manifest.rows['olist_orders_dataset.csv']:,} orders, 9 files"

        _timed(f"generate shop --orders {args.orders:,}", shop)
        _timed(f"generate olist --scale {args.olist_scale:g}", olist)


if __name__ == "__main__":
    main()
