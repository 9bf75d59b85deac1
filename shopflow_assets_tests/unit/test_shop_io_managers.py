"""The Pandera-checked IO managers: validation messages, Parquet in the lake, idempotent warehouse loads."""

import dagster as dg
import pandas as pd
import pandera.pandas as pa
import pytest

from shopflow_assets.contracts.dataset import (
    ContractViolationError,
    DatasetContract,
    register_contract,
    validate_frame,
)
from shopflow_assets.io_managers import PanderaDuckDBIOManager, PanderaParquetIOManager
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.warehouse import WarehouseResource, connect_warehouse
from shopflow_assets.settings import reload_settings

pytestmark = pytest.mark.unit

ITEMS = register_contract(
    DatasetContract(
        name="test.items",
        schema=pa.DataFrameSchema(
            {
                "item_id": pa.Column(str, unique=True),
                "day": pa.Column("datetime64[ns]", coerce=True),
                "price": pa.Column(float, pa.Check.gt(0), coerce=True),
            },
            strict=True,
        ),
        sql_types={"item_id": "VARCHAR", "day": "DATE", "price": "DECIMAL(12,2)"},
        primary_key=("item_id",),
        partition_column="day",
    )
)
VERSIONED = register_contract(
    DatasetContract(
        name="test.versioned",
        schema=pa.DataFrameSchema(
            {
                "item_id": pa.Column(str, unique=True),
                "label": pa.Column(str),
                "seen": pa.Column("datetime64[ns]", coerce=True),
            }
        ),
        sql_types={"item_id": "VARCHAR", "label": "VARCHAR", "seen": "DATE"},
        primary_key=("item_id",),
        version_column="seen",
    )
)
partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("SHOPFLOW_ENV", "local")
    monkeypatch.delenv("SHOPFLOW_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("SHOPFLOW_LAKE_DIR", raising=False)
    settings = reload_settings()
    yield settings
    monkeypatch.undo()
    reload_settings()


def _items(day: str, prices: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"item_id": [f"i{n}" for n in range(len(prices))], "day": pd.Timestamp(day), "price": prices}
    )


def test_violation_message_names_dataset_stage_column_rule_and_rows():
    frame = pd.DataFrame(
        {"item_id": ["a", "b", "b"], "day": pd.Timestamp("2026-01-01"), "price": [1.0, -2.0, 3.0]}
    )
    with pytest.raises(ContractViolationError) as caught:
        validate_frame(ITEMS, frame, stage="write")
    message = str(caught.value)
    assert "dataset 'test.items' broke its contract on write (3 rows checked)" in message
    assert "column 'price', rule 'greater_than(0)': 1 failing value(s)" in message
    assert "{1: {'item_id': 'b', 'day': Timestamp('2026-01-01 00:00:00'), 'price': -2.0}}" in message
    assert "column 'item_id', rule 'field_uniqueness': 2 failing value(s)" in message
    assert set(caught.value.failures["column"]) == {"price", "item_id"}


def _parquet_asset(frame_factory):
    @dg.asset(
        key=["test", "items"],
        partitions_def=partitions,
        io_manager_key="parquet",
        metadata={"dataset": "test.items"},
    )
    def items(context: dg.AssetExecutionContext):
        return frame_factory(context.partition_key)

    @dg.asset(
        key=["test", "items_reader"], partitions_def=partitions, ins={"items": dg.AssetIn(["test", "items"])}
    )
    def reader(items: pd.DataFrame) -> None:
        assert len(items) == 2

    return items, reader


def test_parquet_io_manager_writes_one_object_per_day_and_validates_on_read(home):
    items, reader = _parquet_asset(lambda day: _items(day, [1.5, 2.5]))
    resources = {"parquet": PanderaParquetIOManager(lake=LakeResource(backend="local"), bucket="staging")}
    result = dg.materialize([items, reader], partition_key="2026-01-02", resources=resources)
    assert result.success
    path = home.local_lake_dir / "staging/test/items/date=2026-01-02/part-0.parquet"
    assert path.is_file()
    metadata = result.asset_materializations_for_node("test__items")[0].metadata
    assert metadata["dagster/row_count"].value == 2
    assert metadata["dataset"].value == "test.items"
    assert "i0" in metadata["preview"].value

    # Data broken in storage is caught when read back.
    pd.DataFrame({"item_id": ["x", "x"], "day": pd.Timestamp("2026-01-02"), "price": [1.0, 1.0]}).to_parquet(
        path
    )
    with pytest.raises(ContractViolationError, match="'test.items' broke its contract on read"):
        dg.materialize([items.to_source_asset(), reader], partition_key="2026-01-02", resources=resources)


def test_parquet_io_manager_fails_the_step_on_a_bad_frame(home):
    items, _ = _parquet_asset(lambda day: _items(day, [1.5, -1.0]))
    resources = {"parquet": PanderaParquetIOManager(lake=LakeResource(backend="local"), bucket="staging")}
    with pytest.raises(ContractViolationError, match="column 'price', rule 'greater_than\\(0\\)'"):
        dg.materialize([items], partition_key="2026-01-02", resources=resources)
    assert not (home.local_lake_dir / "staging/test/items/date=2026-01-02").exists()


def test_warehouse_io_manager_replaces_a_partition_and_keeps_the_others(home):
    prices = {"2026-01-02": [1.25, 2.5], "2026-01-03": [10.0]}

    @dg.asset(
        key=["test", "items"],
        partitions_def=partitions,
        io_manager_key="wh",
        metadata={"dataset": "test.items"},
    )
    def items(context: dg.AssetExecutionContext):
        return _items(context.partition_key, prices[context.partition_key])

    resources = {"wh": PanderaDuckDBIOManager(warehouse=WarehouseResource())}
    for day in ("2026-01-02", "2026-01-03", "2026-01-02"):  # a rerun of the first day
        dg.materialize([items], partition_key=day, resources=resources)
    prices["2026-01-02"] = [7.0]  # changed upstream data replaces the day, never adds to it
    dg.materialize([items], partition_key="2026-01-02", resources=resources)
    with connect_warehouse(home, read_only=True) as conn:
        rows = conn.execute("SELECT CAST(day AS VARCHAR), item_id, price FROM items ORDER BY ALL").fetchall()
        price_type = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE column_name='price'"
        ).fetchone()
    assert [(d, i, float(p)) for d, i, p in rows] == [("2026-01-02", "i0", 7.0), ("2026-01-03", "i0", 10.0)]
    assert price_type == ("DECIMAL(12,2)",)


def test_warehouse_io_manager_refuses_rows_outside_the_partition(home):
    @dg.asset(
        key=["test", "items"],
        partitions_def=partitions,
        io_manager_key="wh",
        metadata={"dataset": "test.items"},
    )
    def items():
        return _items("2026-01-05", [1.0])

    with pytest.raises(ValueError, match="outside the partition window \\[2026-01-02, 2026-01-03\\)"):
        dg.materialize(
            [items],
            partition_key="2026-01-02",
            resources={"wh": PanderaDuckDBIOManager(warehouse=WarehouseResource())},
        )


def test_warehouse_io_manager_merges_versioned_rows_newest_wins(home):
    labels = {"2026-01-02": ["old-a", "old-b"], "2026-01-03": ["new-a"]}

    @dg.asset(
        key=["test", "versioned"],
        partitions_def=partitions,
        io_manager_key="wh",
        metadata={"dataset": "test.versioned"},
    )
    def versioned(context: dg.AssetExecutionContext):
        names = labels[context.partition_key]
        return pd.DataFrame(
            {"item_id": ["a", "b"][: len(names)], "label": names, "seen": pd.Timestamp(context.partition_key)}
        )

    resources = {"wh": PanderaDuckDBIOManager(warehouse=WarehouseResource())}
    for day in ("2026-01-02", "2026-01-03", "2026-01-02"):  # the older day rerun last must not win
        dg.materialize([versioned], partition_key=day, resources=resources)
    with connect_warehouse(home, read_only=True) as conn:
        rows = conn.execute(
            "SELECT item_id, label, CAST(seen AS VARCHAR) FROM versioned ORDER BY 1"
        ).fetchall()
    assert rows == [("a", "new-a", "2026-01-03"), ("b", "old-b", "2026-01-02")]
