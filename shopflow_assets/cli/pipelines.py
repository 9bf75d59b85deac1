"""`shopflow demo`, `shopflow run shop` and `shopflow dbt-prepare`."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import time
from pathlib import Path

from shopflow_assets.cli import UsageError, date_range
from shopflow_assets.cli import parse_date as _date
from shopflow_assets.settings import Settings, get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="generate a few days of shop data and materialize the whole daily batch (no services needed)",
        description=(
            "Generates --days days of shop CSVs ending yesterday (UTC), materializes the shop daily batch "
            "for each day (raw objects, Spark cleaning, star schema, checks, dbt gold) on the current "
            "SHOPFLOW_ENV (default: local lake directory + DuckDB file), then prints where to look."
        ),
    )
    demo.add_argument("--days", type=int, default=3, help="number of days (default 3)")
    demo.add_argument("--end", type=_date, default=None, help="last day (default: yesterday, UTC)")
    demo.add_argument("--scale", type=float, default=1.0, help="1.0 = 10,000 orders a day")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--log-level", default="WARNING", help="Dagster console log level (default WARNING)")
    demo.set_defaults(func=_demo)

    run = subparsers.add_parser(
        "run", help="materialize a pipeline for a day or a range of days (a backfill)"
    )
    pipelines = run.add_subparsers(dest="pipeline", required=True)
    shop = pipelines.add_parser("shop", help="job ecommerce_daily_batch, one run per day, in this process")
    shop.add_argument("--date", type=_date, required=True, help="first day, YYYY-MM-DD")
    shop.add_argument("--end", type=_date, default=None, help="last day, inclusive (default: --date)")
    shop.add_argument("--log-level", default="INFO", help="Dagster console log level (default INFO)")
    shop.set_defaults(func=_run_shop)

    shop_cmd = subparsers.add_parser("shop", help="checks of the shop daily batch (used by the Airflow DAG)")
    shop_checks = shop_cmd.add_subparsers(dest="shop_command", required=True)
    landed = shop_checks.add_parser(
        "landed", help="exit 0 when the day's three CSVs are in the landing dir or raw-data"
    )
    landed.add_argument("--date", type=_date, required=True)
    landed.set_defaults(func=_shop_landed)
    quality = shop_checks.add_parser(
        "quality", help="exit 0 when SELECT COUNT(*) FROM fact_orders for the day is > 0"
    )
    quality.add_argument("--date", type=_date, required=True)
    quality.set_defaults(func=_shop_quality)

    prepare = subparsers.add_parser(
        "dbt-prepare",
        help="`dbt parse` the dbt project and write the dbt assets' specs (loading the definitions needs both)",
    )
    prepare.set_defaults(func=_dbt_prepare)


def _dbt_prepare(args: argparse.Namespace) -> int:
    from shopflow_assets.domains.dbt import prepare_dbt

    print(f"dbt manifest: {prepare_dbt()}")
    return 0


def dagster_home(settings: Settings | None = None) -> Path:
    """DAGSTER_HOME, else $SHOPFLOW_HOME/dagster: runs recorded there show in `dagster dev` started with it."""
    settings = settings or get_settings()
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists():  # the project's instance: queued runs, the Olist writer limit
        shutil.copyfile(Path(__file__).parents[1] / "dagster_instance.yaml", instance_config)
    return home


def _shop_landed(args: argparse.Namespace) -> int:
    from shopflow_assets.contracts.shop import SHOP_DATASETS
    from shopflow_assets.domains.shop.transforms import raw_object_key
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.resources.source_files import SourceFilesResource

    lake = build_lake()
    missing = [
        dataset
        for dataset in SHOP_DATASETS
        if not SourceFilesResource().shop_landing_file(args.date, dataset).is_file()
        and not lake.exists("raw-data", raw_object_key(args.date, dataset))
    ]
    if missing:
        print(
            f"{args.date}: waiting for {', '.join(missing)} (landing dir or {lake.uri('raw-data', f'{args.date:%Y/%m/%d}/')})"
        )
        return 1
    print(f"{args.date}: users, products and orders have landed")
    return 0


def _shop_quality(args: argparse.Namespace) -> int:
    from shopflow_assets.resources.warehouse import connect_warehouse

    with connect_warehouse(read_only=True) as conn:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM fact_orders WHERE order_date = ?", [args.date]
        ).fetchone()
    print(f"SELECT COUNT(*) FROM fact_orders WHERE order_date = '{args.date}' -> {count}")  # nosec B608 # printed for the user, never executed
    return 0 if count > 0 else 1


def _run_shop(args: argparse.Namespace) -> int:
    import dagster as dg

    from shopflow_assets.domains.dbt import ensure_dbt_manifest

    ensure_dbt_manifest()  # a fresh clone has no manifest: the definitions below need it
    from shopflow_assets.domains.shop.definitions import days_between, run_days

    os.environ["DAGSTER_HOME"] = str(dagster_home())
    days = days_between(*date_range(args.date, args.end))
    with dg.DagsterInstance.get() as instance:
        for day, result in zip(
            days, run_days(days, instance, raise_on_error=False, log_level=args.log_level), strict=True
        ):
            print(f"{day}: {'success' if result.success else 'FAILED'} (run {result.run_id})")
            if not result.success:
                return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    import dagster as dg

    from shopflow_assets.contracts.shop import FIRST_BUSINESS_DAY
    from shopflow_assets.datagen.shop import generate_shop_day
    from shopflow_assets.domains.dbt import ensure_dbt_manifest

    ensure_dbt_manifest()  # `make demo` on a fresh clone: the definitions below need the manifest
    from shopflow_assets.domains.shop.definitions import days_between, run_days
    from shopflow_assets.resources.warehouse import connect_warehouse
    from shopflow_assets.settings import get_settings

    settings = get_settings()
    if args.days < 1:
        raise UsageError(f"--days must be at least 1, got {args.days}")
    end = args.end or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    days = days_between(end - dt.timedelta(days=args.days - 1), end)
    if days[0] < FIRST_BUSINESS_DAY:
        raise UsageError(
            f"{days[0]} is before the first shop partition {FIRST_BUSINESS_DAY} "
            "(FIRST_BUSINESS_DAY in shopflow_assets/contracts/shop.py)"
        )
    os.environ["DAGSTER_HOME"] = str(dagster_home(settings))
    print(f"ShopFlow demo: {len(days)} day(s) {days[0]}..{days[-1]}, SHOPFLOW_ENV={settings.env}")

    expected = {}
    for day in days:
        out_dir = settings.shop_landing_root / day.isoformat()
        manifest = generate_shop_day(day, out_dir, scale=args.scale, seed=args.seed)
        expected[day] = manifest.expected_revenue_cents
        print(f"  generated {out_dir} ({manifest.orders} orders, {len(manifest.dirty_rows)} dirty rows)")

    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        for day, result in zip(
            days, run_days(days, instance, raise_on_error=False, log_level=args.log_level), strict=True
        ):
            status = "success" if result.success else "FAILED"
            print(f"  {day}: job ecommerce_daily_batch {status} (run {result.run_id})")
            if not result.success:
                print(f"shopflow demo: the run for {day} failed; see `make dev` -> Runs -> {result.run_id}")
                return 1
    print(f"  materialized in {time.monotonic() - started:.0f}s")

    with connect_warehouse(settings, read_only=True) as conn:
        rows = conn.execute(
            "SELECT order_date, count(*), sum(total_amount) FROM fact_orders "
            "WHERE order_date BETWEEN ? AND ? GROUP BY 1 ORDER BY 1",
            [days[0], days[-1]],
        ).fetchall()
    print("\nRevenue per day in fact_orders (vs. the generator's clean rows):")
    for order_date, orders, revenue in rows:
        cents = int(round(revenue * 100))
        mark = (
            "ok"
            if cents == expected.get(order_date)
            else f"MISMATCH (expected {expected.get(order_date)} cents)"
        )
        print(f"  {order_date}  {orders:>8,} orders  {revenue:>14,.2f}  {mark}")

    lake = (
        f"{settings.local_lake_dir}/{{raw-data,staging,quarantine}}"
        if not settings.uses_s3
        else f"s3://raw-data, s3://staging, s3://quarantine at {settings.s3_endpoint_url}"
    )
    revenue_sql = "select order_date, count(*), sum(total_amount) from fact_orders group by 1 order by 1"  # nosec B608 # printed for the user, never executed
    print(
        f"""
Where to look:
  Dagster UI (lineage, metadata, checks, these runs):
      DAGSTER_HOME={os.environ["DAGSTER_HOME"]} uv run dagster dev -w workspace.yaml   # http://127.0.0.1:3000
  SQL on the warehouse ({settings.warehouse_path}):
      uv run python -c "import duckdb; print(duckdb.connect('{settings.warehouse_path}', read_only=True).sql('{revenue_sql}'))"
      gold models: shop_daily_revenue, shop_revenue_by_country, shop_revenue_by_category, shop_top_products
  Lake: {lake}
  Quarantined rows with their rule: quarantine/shop/quarantine/date=YYYY-MM-DD/part-0.parquet"""
    )
    return 0
