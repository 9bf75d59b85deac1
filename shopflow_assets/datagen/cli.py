"""`shopflow generate ...` and `shopflow produce ...`: the generators and Kafka producers from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from rich.console import Console

console = Console(stderr=True)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction within [0, 1], got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    generate = subparsers.add_parser(
        "generate", help="write reproducible input files (shop days, Olist CSVs)"
    )
    kinds = generate.add_subparsers(dest="dataset", required=True)

    shop = kinds.add_parser(
        "shop",
        help="Users.csv, Products.csv, Orders.csv (+ manifest.json) for one or more days",
        description="Scale 1 = 10,000 orders a day; users and products are proportional to the order count.",
    )
    shop.add_argument("--date", type=_date, required=True, help="first day, YYYY-MM-DD")
    shop.add_argument("--days", type=int, default=1, help="number of consecutive days (default 1)")
    shop.add_argument("--scale", type=float, default=1.0, help="1.0 = 10,000 orders a day")
    shop.add_argument("--orders", type=int, default=None, help="orders per day, exactly (overrides --scale)")
    shop.add_argument("--seed", type=int, default=42)
    shop.add_argument("--dirty-rate", type=_fraction, default=0.02, help="share of dirty rows per file")
    shop.add_argument(
        "--out",
        type=Path,
        default=None,
        help="root folder; each day goes to <out>/YYYY-MM-DD (default: home/incoming/shop)",
    )
    shop.set_defaults(func=_generate_shop)

    olist = kinds.add_parser(
        "olist",
        help="the nine Olist CSV files (+ manifest.json)",
        description="Scale 1 = the real Kaggle size (99,441 orders, ~1M geolocation rows).",
    )
    olist.add_argument("--scale", type=float, default=1.0)
    olist.add_argument("--seed", type=int, default=42)
    olist.add_argument("--out", type=Path, default=None, help="folder (default: home/incoming/olist)")
    olist.set_defaults(func=_generate_olist)


def _generate_shop(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shopflow_assets.datagen.shop import default_out_dir, generate_shop_day, shop_sizes

    if args.days < 1:
        raise SystemExit("--days must be at least 1")
    started = time.perf_counter()
    total_rows = 0
    with Progress(
        TextColumn("[bold]generate shop"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("days", total=args.days, rate="")
        for offset in range(args.days):
            day = args.date + dt.timedelta(days=offset)
            out_dir = args.out / day.isoformat() if args.out else default_out_dir(day)
            shop_sizes(day, args.scale, args.orders)  # a clear error for a bad scale before any work
            manifest = generate_shop_day(day, out_dir, args.scale, args.seed, args.dirty_rate, args.orders)
            total_rows += sum(counts.rows for counts in manifest.files.values())
            elapsed = time.perf_counter() - started
            progress.update(task, advance=1, rate=f"{total_rows / elapsed:,.0f} rows/s")
            counts = manifest.files
            console.print(
                f"{day}: {out_dir}  orders {counts['Orders.csv'].rows:,} ({counts['Orders.csv'].clean_rows:,} clean), "
                f"users {counts['Users.csv'].rows:,}, products {counts['Products.csv'].rows:,} "
                f"dirty rows {len(manifest.dirty_rows):,}, "
                f"expected revenue {manifest.expected_revenue:,.2f}"
            )
    return 0


def _generate_olist(args: argparse.Namespace) -> int:
    from shopflow_assets.datagen.olist import default_out_dir, generate_olist

    out_dir = args.out or default_out_dir()
    started = time.perf_counter()
    with console.status(f"generating Olist files at scale {args.scale} into {out_dir} ..."):
        manifest = generate_olist(out_dir, args.scale, args.seed)
    elapsed = time.perf_counter() - started
    total = sum(manifest.rows.values())
    for name, rows in manifest.rows.items():
        console.print(f"  {name:<42} {rows:>10,} rows")
    console.print(f"{total:,} rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s) -> {out_dir}")
    return 0
