"""`shopflow olist`: the dbt and gold-check commands that replace the marketplace modules' `__main__`s."""

from __future__ import annotations

import pytest

from shopflow_assets.cli import build_parser, main
from shopflow_assets.cli.olist import _dbt, _quality

pytestmark = pytest.mark.unit


def test_dbt_and_quality_are_sub_commands():
    args = build_parser().parse_args(["olist", "dbt", "test"])
    assert (args.func, args.dbt_command) == (_dbt, "test")
    assert build_parser().parse_args(["olist", "quality"]).func is _quality


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
