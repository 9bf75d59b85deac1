"""`shopflow lake` on the local lake directory (SHOPFLOW_ENV=local), tables written by delta-rs."""

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from shopflow_assets.cli import main
from shopflow_assets.resources.delta_tables import DELTA_TABLES, DeltaTables, VersionError, parse_as_of
from shopflow_assets.settings import get_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def local_lake(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPFLOW_ENV", "local")
    monkeypatch.setenv("SHOPFLOW_LAKE_DIR", str(tmp_path / "lake"))
    get_settings.cache_clear()
    yield tmp_path / "lake"
    get_settings.cache_clear()


def test_known_tables_are_the_bronze_silver_and_page_view_tables():
    assert len([t for t in DELTA_TABLES if t.startswith("bronze_")]) == 9
    assert len([t for t in DELTA_TABLES if t.startswith("silver_")]) == 7
    assert DELTA_TABLES["silver_orders"] == ("lakehouse", "silver/orders")
    assert DELTA_TABLES["fact_page_views"] == ("lakehouse", "fact_page_views")


def test_as_of_is_a_version_or_a_utc_timestamp():
    assert parse_as_of("12") == 12
    assert parse_as_of("2026-01-02") == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert parse_as_of("2026-01-02T03:04:05+02:00").utcoffset() == dt.timedelta(hours=2)
    with pytest.raises(VersionError, match="neither a version number"):
        parse_as_of("last tuesday")


def test_history_show_restore_on_the_local_lake(local_lake, capsys):
    path = DeltaTables.from_settings().uri("fact_page_views")
    assert path == f"{local_lake.resolve()}/lakehouse/fact_page_views"
    write_deltalake(path, pa.table({"url": ["/a", "/b"], "views": [3, 5]}))
    write_deltalake(path, pa.table({"url": ["/a"], "views": [0]}), mode="overwrite")  # the bad write

    assert main(["lake", "history", "fact_page_views"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["1", "0"]
    assert main(["lake", "show", "fact_page_views", "--as-of", "0", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fact_page_views at version 0 (first 1 rows)") and "/a" in out and "/b" not in out

    assert main(["lake", "restore", "fact_page_views", "--to", "0"]) == 0
    assert "restored to version 0 as new version 2" in capsys.readouterr().out
    restored = DeltaTable(path).to_pyarrow_table().sort_by("url")
    assert restored.to_pydict() == {"url": ["/a", "/b"], "views": [3, 5]}


def test_unknown_table_is_a_one_line_usage_error(local_lake, capsys):
    assert main(["lake", "show", "silver_nope", "--as-of", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown table 'silver_nope'" in err
    assert main(["lake", "history", "silver_orders"]) == 1  # known, but not materialized in this lake
    assert "no Delta table at" in capsys.readouterr().err
