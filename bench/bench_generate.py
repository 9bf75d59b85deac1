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

from harness import Figure, record

from shopflow_assets.datagen.olist import generate_olist
from shopflow_assets.datagen.shop import generate_shop_day

TARGET_SHOP_SECONDS = 15


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(label: str, work) -> float:
    cpu, started = _cpu_seconds(), time.perf_counter()
    rows, detail = work()
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    print(f"{label}: {rows:,} rows in {wall:.2f} s -> {rows / wall:,.0f} rows/s (CPU {cpu:.2f} s); {detail}")
    return wall


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
                f"{manifest.files['Orders.csv'].rows:,} order rows",
            )

        def olist():
            manifest = generate_olist(out / "olist", scale=args.olist_scale)
            return sum(
                manifest.rows.values()
            ), f"{manifest.rows['olist_orders_dataset.csv']:,} orders, 9 files"

        shop_seconds = _timed(f"generate shop --orders {args.orders:,}", shop)
        olist_seconds = _timed(f"generate olist --scale {args.olist_scale:g}", olist)
    record(
        "generate",
        [
            Figure(f"generate shop, {args.orders:,} orders", shop_seconds, "s", TARGET_SHOP_SECONDS),
            Figure(f"generate olist, scale {args.olist_scale:g}", olist_seconds, "s"),
        ],
    )


if __name__ == "__main__":
    main()
