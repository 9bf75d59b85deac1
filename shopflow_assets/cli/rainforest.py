"""`shopflow generate rainforest` (the marketplace app database) and `shopflow rainforest landed|published`
(the checks the Airflow DAG waits on)."""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from shopflow_assets.cli import parse_date, positive

console = Console(stderr=True)


def _schema(text: str) -> str:
    from shopflow_assets.resources.extract import InvalidIdentifierError, checked_identifier

    try:
        return checked_identifier(text, "schema")
    except InvalidIdentifierError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError(f"`shopflow {parser.prog}` has no sub-commands")


def register(subparsers: argparse._SubParsersAction) -> None:
    # `generate` belongs to the datagen module (listed before this one in COMMAND_MODULES).
    kinds = _subcommands(subparsers.choices["generate"])
    app = kinds.add_parser(
        "rainforest",
        help="fill the rainforest marketplace app database (PostgreSQL) for one or more days",
        description=(
            "Creates the app's tables in the `rainforest` database if missing, writes the reference rows "
            "(users, buyers, sellers, brands, products, ...) on the first day, then per day a few "
            "dimension updates, the orders, their items and the click events, with COPY."
        ),
    )
    app.add_argument("--date", type=parse_date, required=True, help="first day, YYYY-MM-DD")
    app.add_argument("--days", type=positive(), default=1, help="consecutive days (default 1)")
    app.add_argument(
        "--orders-per-day", type=positive(), default=10_000, help="orders a day (default 10,000)"
    )
    app.add_argument("--seed", type=int, default=42)
    app.add_argument(
        "--schema",
        type=_schema,
        default="public",
        help="PostgreSQL schema of the app tables (default public)",
    )
    app.add_argument("--reset", action="store_true", help="drop and recreate the app tables first")
    app.set_defaults(func=_generate)

    group = subparsers.add_parser(
        "rainforest", help="checks of the medallion reports (used by the Airflow DAG)"
    )
    checks = group.add_subparsers(dest="rainforest_command", required=True)
    landed = checks.add_parser("landed", help="exit 0 when the app database holds orders of the day")
    landed.add_argument("--date", type=parse_date, required=True)
    landed.set_defaults(func=_landed)
    published = checks.add_parser(
        "published", help="exit 0 when both interface reports hold rows for the day"
    )
    published.add_argument("--date", type=parse_date, required=True)
    published.set_defaults(func=_published)


def _generate(args: argparse.Namespace) -> int:
    from shopflow_assets.contracts.rainforest import SOURCE_DATABASE
    from shopflow_assets.datagen.rainforest import RainforestError, generate_rainforest
    from shopflow_assets.resources.postgres import PostgresResource
    from shopflow_assets.settings import get_settings

    settings = get_settings()
    schema = args.schema
    owner = PostgresResource.from_settings(
        settings, role="owner", database=SOURCE_DATABASE
    ).process_config_and_initialize()
    started = time.perf_counter()
    try:
        with owner.connect() as conn:
            report = generate_rainforest(
                conn,
                args.date,
                args.days,
                args.orders_per_day,
                seed=args.seed,
                schema=schema,
                reset=args.reset,
                reader_role=settings.postgres_reader_user,
            )
    except RainforestError as exc:
        raise SystemExit(f"shopflow generate rainforest: {exc}") from None
    elapsed = time.perf_counter() - started
    total = sum(report.rows.values())
    for table, rows in report.rows.items():
        console.print(f"  {schema}.{table:<18} {rows:>10,} rows")
    console.print(
        f"{len(report.days)} day(s) {report.days[0]}..{report.days[-1]}: {total:,} rows in {elapsed:.1f} s "
        f"({total / elapsed:,.0f} rows/s) -> rainforest"
    )
    return 0


def _landed(args: argparse.Namespace) -> int:
    from shopflow_assets.contracts.rainforest import SOURCE_DATABASE
    from shopflow_assets.domains.rainforest.pipeline import source_orders_on
    from shopflow_assets.resources.postgres import PostgresResource
    from shopflow_assets.settings import get_settings

    reader = PostgresResource.from_settings(
        get_settings(), role="reader", database=SOURCE_DATABASE
    ).process_config_and_initialize()
    with reader.connect() as conn:
        orders = source_orders_on(conn, args.date)
    console.print(f"rainforest.orders on {args.date}: {orders:,}")
    return 0 if orders > 0 else 1


def _published(args: argparse.Namespace) -> int:
    from shopflow_assets.contracts.rainforest import INTERFACE_SCHEMA, REPORTS
    from shopflow_assets.domains.rainforest.publish import published_rows
    from shopflow_assets.resources.warehouse import connect_warehouse
    from shopflow_assets.settings import get_settings

    if not get_settings().warehouse_path.exists():
        rows = dict.fromkeys((f"{INTERFACE_SCHEMA}.{view}" for view in REPORTS), 0)
    else:
        with connect_warehouse(read_only=True) as con:
            rows = published_rows(con, args.date)
    for view, count in rows.items():
        console.print(f"{view} on {args.date}: {count:,} rows")
    return 0 if all(rows.values()) else 1
