"""`shopflow olist`: the dbt and gold-check commands that replace the marketplace modules' `__main__`s."""

from __future__ import annotations

import pytest

from shopflow_assets.cli import build_parser, main
from shopflow_assets.cli.olist import _dbt, _quality, _rebuild_silver

pytestmark = pytest.mark.unit


def test_dbt_and_quality_are_sub_commands():
    args = build_parser().parse_args(["olist", "dbt", "test"])
    assert (args.func, args.dbt_command) == (_dbt, "test")
    assert build_parser().parse_args(["olist", "quality"]).func is _quality
    assert build_parser().parse_args(["olist", "rebuild-silver"]).func is _rebuild_silver


def test_an_unknown_dbt_command_is_a_usage_error(capsys):
    assert main(["olist", "dbt", "seed"]) == 2
    assert "invalid choice: 'seed'" in capsys.readouterr().err


def test_quality_on_a_warehouse_without_gold_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    import duckdb

    from shopflow_assets.settings import get_settings, reload_settings

    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("SHOPFLOW_ENV", "local")
    reload_settings()
    try:
        duckdb.connect(str(get_settings().warehouse_path)).close()  # a warehouse before any gold run
        assert main(["olist", "quality"]) == 1
    finally:
        monkeypatch.undo()
        reload_settings()
    err = capsys.readouterr().err
    assert err.startswith("shopflow: olist gold checks cannot run:") and "gold_daily_sales" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_rebuild_silver_removes_what_the_silver_streams_wrote_and_keeps_bronze(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from shopflow_assets.contracts.marketplace import ALL_TABLES, STREAMED
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.resources.streaming.resource import SparkStreamingResource
    from shopflow_assets.settings import get_settings, reload_settings

    def made(location: str) -> Path:  # a table or folder where the pipeline's own path scheme puts it
        path = Path(location.removeprefix("file://"))
        (path / "_delta_log").mkdir(parents=True)
        return path

    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("SHOPFLOW_ENV", "local")
    reload_settings()
    try:
        lake = MarketplaceLake(build_lake().uri)
        lake_dir = get_settings().local_lake_dir
        bronze = [made(lake.paths.bronze(t.name)) for t in ALL_TABLES]
        silver = [made(lake.paths.silver(t.name)) for t in STREAMED]
        quarantine = [made(lake.paths.quarantine(t.name)) for t in STREAMED]
        streaming = SparkStreamingResource()  # where the silver streams keep their checkpoints
        checkpoints = [
            made(
                str(
                    lake_dir
                    / streaming.checkpoint_bucket
                    / streaming.checkpoint_key(lake.checkpoint_name(f"silver_{t.name}"))
                )
            )
            for t in STREAMED
        ]
        batch_silver = made(lake.paths.silver("order_payments"))  # not streamed: a changed CSV reloads it

        assert main(["olist", "rebuild-silver"]) == 0
        first = capsys.readouterr().out
        assert main(["olist", "rebuild-silver"]) == 0
        second = capsys.readouterr().out
    finally:
        monkeypatch.undo()
        reload_settings()
    assert not any(path.exists() for path in silver + quarantine + checkpoints)
    assert all(path.exists() for path in bronze) and batch_silver.exists()
    assert "silver/orders" in first and "_checkpoints/marketplace/silver_customers" in first
    assert "next: run olist_pipeline" in first
    assert second.startswith("removed nothing (no streamed silver yet)")
