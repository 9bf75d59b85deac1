"""Asset metadata every IO manager attaches: row count, schema, a preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from shopflow_assets.contracts.dataset import DatasetContract

if TYPE_CHECKING:
    import pandas as pd  # frames arrive at run time; no pandas when the code location loads

PREVIEW_ROWS = 10


def table_schema(contract: DatasetContract, frame: pd.DataFrame) -> dg.TableSchema:
    """Columns with their storage types (warehouse SQL types when the contract has them)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=str(name),
                type=contract.sql_types.get(str(name), str(dtype)),
                constraints=dg.TableColumnConstraints(
                    unique=str(name) in contract.primary_key and len(contract.primary_key) == 1
                ),
            )
            for name, dtype in frame.dtypes.items()
        ]
    )


def preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False) if len(frame) else "_no rows_")


def frame_metadata(contract: DatasetContract, frame: pd.DataFrame) -> dict[str, object]:
    return {
        "dagster/row_count": len(frame),
        "dagster/column_schema": table_schema(contract, frame),
        "dataset": contract.name,
        "preview": preview(frame),
    }


def partition_window(context: dg.InputContext | dg.OutputContext) -> tuple[str, str] | None:
    """[start, end) of the partition(s) being written or read, as ISO dates; None if not partitioned."""
    if not context.has_asset_partitions:
        return None
    window = context.asset_partitions_time_window
    return window.start.date().isoformat(), window.end.date().isoformat()
