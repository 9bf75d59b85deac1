"""Frames <-> warehouse tables (DuckDB), checked against the dataset's contract on every write and read.

How a write lands depends on the contract, and is idempotent in every case (one transaction):
- `partition_column`: the partition's days are deleted, then the frame is inserted (facts, dim_date);
- `version_column` + `primary_key`: merged by key, newest version wins (dimensions, SCD type 1);
- neither: the table is replaced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from shopflow_assets.contracts.dataset import DatasetContract, validate_frame
from shopflow_assets.io_managers.metadata import frame_metadata, partition_window
from shopflow_assets.io_managers.parquet import dataset_of, to_pandas
from shopflow_assets.resources.warehouse import WarehouseResource

# Type hints only: the connection comes from WarehouseResource at run time, not at code-location load.
if TYPE_CHECKING:
    import duckdb
    import pandas as pd


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(contract: DatasetContract, table: str) -> str:
    columns = ", ".join(f"{_q(c)} {contract.sql_types.get(c, 'VARCHAR')}" for c in contract.columns)
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"


def _select_cast(contract: DatasetContract, source: str) -> str:
    return ", ".join(
        f"CAST({source}.{_q(c)} AS {contract.sql_types.get(c, 'VARCHAR')}) AS {_q(c)}"
        for c in contract.columns
    )


def write_frame(
    conn: duckdb.DuckDBPyConnection,
    contract: DatasetContract,
    table: str,
    frame: pd.DataFrame,
    window: tuple[str, str] | None,
) -> None:
    """Load a validated frame into `table` per the contract's load mode, in one transaction."""
    columns = ", ".join(_q(c) for c in contract.columns)
    conn.execute(create_table_sql(contract, table))
    conn.register("_incoming", frame)
    try:
        conn.execute("BEGIN TRANSACTION")
        if contract.partition_column and window:
            part = _q(contract.partition_column)
            outside = conn.execute(
                f"SELECT count(*) FROM _incoming WHERE NOT (CAST({part} AS DATE) >= ? AND CAST({part} AS DATE) < ?)",  # nosec B608 # table and columns are quoted with _q
                list(window),
            ).fetchone()[0]
            if outside:
                raise ValueError(
                    f"{contract.name}: {outside} row(s) have {contract.partition_column} outside the partition "
                    f"window [{window[0]}, {window[1]}); a rerun could not replace them"
                )
            conn.execute(f"DELETE FROM {table} WHERE {part} >= ? AND {part} < ?", list(window))  # nosec B608 # table and columns are quoted with _q
            conn.execute(
                f"INSERT INTO {table} ({columns}) SELECT {_select_cast(contract, '_incoming')} FROM _incoming"  # nosec B608 # table and columns are quoted with _q
            )
        elif contract.version_column and contract.primary_key:
            same_key = " AND ".join(f"{table}.{_q(k)} = i.{_q(k)}" for k in contract.primary_key)
            version = _q(contract.version_column)
            version_type = contract.sql_types.get(contract.version_column, "VARCHAR")
            conn.execute(
                f"DELETE FROM {table} USING _incoming AS i WHERE {same_key} "  # nosec B608 # table and columns are quoted with _q
                f"AND {table}.{version} <= CAST(i.{version} AS {version_type})"
            )
            conn.execute(
                f"INSERT INTO {table} ({columns}) SELECT {_select_cast(contract, 'i')} FROM _incoming AS i "  # nosec B608 # table and columns are quoted with _q
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {same_key})"
            )
        else:
            conn.execute(f"DELETE FROM {table}")  # nosec B608 # table and columns are quoted with _q
            conn.execute(
                f"INSERT INTO {table} ({columns}) SELECT {_select_cast(contract, '_incoming')} FROM _incoming"  # nosec B608 # table and columns are quoted with _q
            )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_incoming")


def read_frame(
    conn: duckdb.DuckDBPyConnection, contract: DatasetContract, table: str, window: tuple[str, str] | None
) -> pd.DataFrame:
    columns = ", ".join(_q(c) for c in contract.columns)
    if contract.partition_column and window:
        part = _q(contract.partition_column)
        sql = f"SELECT {columns} FROM {table} WHERE {part} >= ? AND {part} < ? ORDER BY ALL"  # nosec B608 # table and columns are quoted with _q
        return conn.execute(sql, list(window)).df()
    return conn.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").df()  # nosec B608 # table and columns are quoted with _q


class PanderaDuckDBIOManager(dg.ConfigurableIOManager):
    """Warehouse tables in the DuckDB warehouse that `warehouse` opens.

    The table is named after the last part of the asset key, in `schema_name`. The asset's definition
    metadata names its dataset contract (`dataset`), which gives the DDL, the keys and the load mode.
    """

    warehouse: WarehouseResource
    schema_name: str = "main"

    def _table(self, asset_key: dg.AssetKey) -> str:
        return f"{_q(self.schema_name)}.{_q(asset_key.path[-1])}"

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        contract = dataset_of(context.definition_metadata, context.asset_key)
        frame = validate_frame(contract, to_pandas(obj), stage="write")
        table = self._table(context.asset_key)
        with self.warehouse.connect() as conn:
            if self.schema_name != "main":
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(self.schema_name)}")
            write_frame(conn, contract, table, frame, partition_window(context))
            total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # nosec B608 # table and columns are quoted with _q
        context.add_output_metadata(
            {
                **frame_metadata(contract, frame),
                "dagster/table_name": f"{self.schema_name}.{context.asset_key.path[-1]}",
                "table_rows_total": total,
                "warehouse": dg.MetadataValue.path(str(self.warehouse.path)),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        upstream = context.upstream_output
        contract = dataset_of(upstream.definition_metadata if upstream else None, context.asset_key)
        with self.warehouse.connect(read_only=True) as conn:
            frame = read_frame(conn, contract, self._table(context.asset_key), partition_window(context))
        return validate_frame(contract, frame, stage="read")
