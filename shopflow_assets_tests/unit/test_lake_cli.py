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


def test_restoring_a_bronze_table_a_stream_reads_is_refused_with_what_to_do(local_lake, capsys):
    # bronze_orders is read by the silver_orders stream: a restore's removals are data changes that
    # stream cannot read, and the rows it removes are never read from Kafka again.
    path = DeltaTables.from_settings().uri("bronze_orders")
    write_deltalake(path, pa.table({"order_id": ["o1"], "order_status": ["delivered"]}))
    write_deltalake(path, pa.table({"order_id": ["o2"], "order_status": ["shipped"]}), mode="append")

    assert main(["lake", "restore", "bronze_orders", "--to", "0"]) == 2
    err = capsys.readouterr().err
    assert "bronze_orders is read by the stream of silver_orders" in err
    assert "shopflow lake restore silver_orders --to" in err  # what to restore instead
    assert "_checkpoints/marketplace/bronze_orders" in err  # how to replay from Kafka
    assert "--allow-streamed-source" in err
    assert DeltaTable(path).version() == 1  # nothing was committed

    # The explicit flag restores and removes what the silver stream wrote, for the next run to rebuild.
    tables = DeltaTables.from_settings()
    silver = tables.uri("silver_orders")
    write_deltalake(silver, pa.table({"order_id": ["o1", "o2"], "order_status": ["delivered", "shipped"]}))
    written = [local_lake / bucket / key for bucket, key in tables.stream_target_locations("bronze_orders")]
    for location in written[1:]:  # the quarantine table and the stream's checkpoint
        (location / "_delta_log").mkdir(parents=True)
    assert main(["lake", "restore", "bronze_orders", "--to", "0", "--allow-streamed-source"]) == 0
    out = capsys.readouterr().out
    assert "restored to version 0 as new version 2" in out
    assert "silver_orders is rebuilt from the restored bronze_orders by the next olist_pipeline run" in out
    for location in written:
        assert not location.exists() and str(location.resolve()) in out
    assert [str(location.relative_to(local_lake)) for location in written] == [
        "lakehouse/silver/orders",
        "quarantine/marketplace/silver_orders",
        "lakehouse/_checkpoints/marketplace/silver_orders",
    ]
    assert DeltaTable(path).to_pyarrow_table().to_pydict() == {
        "order_id": ["o1"],
        "order_status": ["delivered"],
    }


def test_every_streamed_bronze_table_is_guarded_and_the_rest_are_not():
    from shopflow_assets.contracts.marketplace import ALL_TABLES
    from shopflow_assets.resources.delta_tables import STREAM_SOURCES

    streamed = {f"bronze_{t.name}" for t in ALL_TABLES if t.topic is not None}
    assert streamed == {
        "bronze_orders",
        "bronze_order_items",
        "bronze_customers",
        "bronze_products",
        "bronze_sellers",
    }
    assert set(STREAM_SOURCES) == streamed
    assert all(STREAM_SOURCES[f"bronze_{name}"] == f"silver_{name}" for name in ("orders", "sellers"))


def test_the_checkpoints_the_message_names_are_the_streams_own():
    from shopflow_assets.domains.marketplace.pipeline import MarketplaceLake
    from shopflow_assets.resources.delta_tables import checkpoint_key
    from shopflow_assets.resources.streaming.checkpoints import CHECKPOINT_PREFIX

    for namespace in ("", "walkthrough"):
        lake = MarketplaceLake(lambda bucket, key, engine="native": key, namespace)
        for table in ("bronze_orders", "silver_orders"):
            # the streaming runner puts a query's checkpoint at <lakehouse>/<prefix>/<checkpoint_name>
            assert checkpoint_key(namespace, table) == f"{CHECKPOINT_PREFIX}/{lake.checkpoint_name(table)}"
