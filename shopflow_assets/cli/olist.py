"""`shopflow olist`: the Olist gold models' dbt commands (their tests are the gold rules) and gold freshness outside Dagster (the Airflow DAG's
dbt_test and quality_checks tasks, and by hand), and a rebuild of the streamed silver tables from bronze."""

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
    quality = commands.add_parser(
        "quality", help="gold freshness (the gold rules are `dbt test`); exit 1 if stale"
    )
    quality.set_defaults(func=_quality)
    rebuild = commands.add_parser(
        "rebuild-silver",
        help="remove the streamed silver tables, their quarantine and checkpoints (bronze stays);"
        " the next olist_pipeline rebuilds them from bronze",
    )
    rebuild.set_defaults(func=_rebuild_silver)


def _dbt(args: argparse.Namespace) -> int:
    from shopflow_assets.domains.marketplace.gold import run_dbt_olist
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.settings import get_settings

    root = MarketplaceLake(build_lake().uri).duckdb_lakehouse_root
    print(run_dbt_olist(args.dbt_command, root, get_settings()).stdout[-3000:])
    return 0


def _quality(args: argparse.Namespace) -> int:
    """Gold's freshness; exit 1 if it fails. The gold rules are the dbt tests (`shopflow olist dbt test`)."""
    import duckdb

    from shopflow_assets.domains.marketplace.checks import evaluate_gold_freshness
    from shopflow_assets.resources.warehouse import connect_warehouse

    try:
        with connect_warehouse(read_only=True) as con:
            fresh = evaluate_gold_freshness(con)
    except duckdb.Error as exc:
        raise RuntimeError(f"olist gold checks cannot run: {str(exc).splitlines()[0]}") from exc
    print(f"{'PASS' if fresh.passed else 'FAIL'} {fresh.asset_key.to_user_string()} {fresh.check_name}")
    return 0 if fresh.passed else 1


def _rebuild_silver(args: argparse.Namespace) -> int:
    """Silver of the streamed tables from scratch: for a silver table written wrongly (an Olist run on the
    warm driver before the contract fix merged orders without their customer columns, docs/marketplace.md).
    Bronze keeps every message, so nothing is lost: the next `olist_pipeline` reads bronze from the start."""
    from shopflow_assets.resources.delta_tables import STREAM_SOURCES, DeltaTables

    tables = DeltaTables.from_settings()
    removed = [location for source in STREAM_SOURCES for location in tables.reset_stream_target(source)]
    print(f"removed {', '.join(removed) if removed else 'nothing (no streamed silver yet)'}")
    print("next: run olist_pipeline (Materialize in the UI, or `dagster job execute -m")
    print(
        "shopflow_assets.definitions -j olist_pipeline`); it rebuilds silver from bronze and gold from silver"
    )
    return 0
