"""`shopflow olist`: the Olist gold models' dbt commands and gold checks outside Dagster (the Airflow DAG's
dbt_test and quality_checks tasks, and by hand)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    olist = subparsers.add_parser(
        "olist", help="dbt and gold checks of the Olist marketplace (used by Airflow)"
    )
    commands = olist.add_subparsers(dest="olist_command", required=True)
    dbt = commands.add_parser("dbt", help="`dbt <run|test|build> --select tag:olist` on the configured lake")
    dbt.add_argument("dbt_command", choices=("run", "test", "build"))
    dbt.set_defaults(func=_dbt)
    quality = commands.add_parser("quality", help="the gold checks on the warehouse; exit 1 if one fails")
    quality.set_defaults(func=_quality)


def _dbt(args: argparse.Namespace) -> int:
    from shopflow_assets.domains.marketplace.gold import run_dbt_olist
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.settings import get_settings

    root = MarketplaceLake(build_lake().uri).duckdb_lakehouse_root
    print(run_dbt_olist(args.dbt_command, root, get_settings()).stdout[-3000:])
    return 0


def _quality(args: argparse.Namespace) -> int:
    import duckdb

    from shopflow_assets.domains.marketplace.checks import evaluate_gold
    from shopflow_assets.resources.warehouse import connect_warehouse

    try:
        with connect_warehouse(read_only=True) as con:
            results = evaluate_gold(con)
    except duckdb.Error as exc:
        raise RuntimeError(f"olist gold checks cannot run: {str(exc).splitlines()[0]}") from exc
    for result in results:
        print(
            f"{'PASS' if result.passed else 'FAIL'} {result.asset_key.to_user_string()} {result.check_name}"
        )
    return 0 if all(r.passed for r in results) else 1
