"""Pure transformations of the ERP flow: source rows (Arrow tables) -> the warehouse star schema.

No I/O here. Types follow the warehouse model exactly: money stays decimal128 (never float), timestamps are
split into a UTC date and a time, and every output has the column order and types of contract.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_assets.contracts.erp import (
    CHANGED_COLUMN,
    DIMENSIONS,
    FACTS,
    SOURCE_VERSION_COLUMN,
    primary_key,
)
from shopflow_assets.contracts.erp import DIMENSION_SOURCES as DIMENSION_SOURCES

CURRENCY_NAMES = {
    "GBP": "British Pound Sterling",
    "USD": "United States Dollar",
    "EUR": "Euro",
    "JPY": "Japanese Yen",
    "CHF": "Swiss Franc",
}
# Fact column -> source column where the names differ.
FACT_RENAMES = {"fact_sales_order": {"sales_staff_id": "staff_id"}}
_DATE_PARTS = {
    "created_date": ("created_at", "date"),
    "created_time": ("created_at", "time"),
    "last_updated_date": (CHANGED_COLUMN, "date"),
    "last_updated_time": (CHANGED_COLUMN, "time"),
}


def arrow_type(warehouse_type: str) -> pa.DataType:
    if warehouse_type.startswith("numeric("):
        precision, scale = warehouse_type[len("numeric(") : -1].split(",")
        return pa.decimal128(int(precision), int(scale))
    return {
        "integer": pa.int32(),
        "text": pa.string(),
        "date": pa.date32(),
        "time": pa.time64("us"),
        "boolean": pa.bool_(),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }[warehouse_type]


def output_schema(name: str) -> pa.Schema:
    if name in DIMENSIONS:
        columns = DIMENSIONS[name][1]
    else:
        columns = (*FACTS[name][3], (SOURCE_VERSION_COLUMN, "timestamptz"))
    return pa.schema([(column, arrow_type(kind)) for column, kind in columns])


def latest_versions(tables: Sequence[pa.Table], key: str) -> pa.Table:
    """The newest version (greatest last_updated) of every row id across snapshots and change sets."""
    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        raise ValueError("latest_versions needs at least one non-empty table")
    combined = pa.concat_tables(tables, promote_options="none")
    order = pc.sort_indices(combined, [(key, "ascending"), (CHANGED_COLUMN, "descending")])
    combined = combined.take(order)
    keys = combined[key].to_numpy()
    first = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
    return combined.take(pa.array(first, pa.int64()))


def _utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if column.type.tz is None:
        raise ValueError(f"{column} is a timestamp without time zone; the source contract has timestamptz")
    return pc.cast(column, pa.timestamp("us", tz="UTC"))


def split_timestamp(column: pa.ChunkedArray, part: str) -> pa.Array:
    """The UTC date or time of day of a tz-aware timestamp column."""
    # The stored values of a tz-aware timestamp are UTC: reinterpret them as naive UTC wall-clock time
    # (not pc.local_timestamp, which also depends on the process's time-zone database).
    naive = pa.chunked_array(
        [chunk.view(pa.int64()).view(pa.timestamp("us")) for chunk in _utc(column).chunks],
        pa.timestamp("us"),
    )
    if part == "date":
        return pc.cast(naive, pa.date32())
    return pc.cast(naive, pa.time64("us"))


def _conform(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = output_schema(name)
    return pa.table({f.name: pc.cast(columns[f.name], f.type) for f in schema}, schema=schema)


def fact_rows(name: str, changes: pa.Table) -> pa.Table:
    """One fact row per source version in `changes` (inserts and every update are history)."""
    _, _, _, columns = FACTS[name]
    renames = FACT_RENAMES.get(name, {})
    out: dict[str, pa.Array] = {}
    for column, _ in columns:
        if column in _DATE_PARTS:
            source, part = _DATE_PARTS[column]
            out[column] = split_timestamp(changes[source], part)
        else:
            out[column] = changes[renames.get(column, column)]
    out[SOURCE_VERSION_COLUMN] = _utc(changes[CHANGED_COLUMN])
    return _conform(name, out)


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}.get)


def _dim_from_frame(name: str, frame: pd.DataFrame) -> pa.Table:
    schema = output_schema(name)
    frame = frame.sort_values(DIMENSIONS[name][0])
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def dimension(name: str, current: dict[str, pa.Table]) -> pa.Table:
    """A dimension from the current (latest-version) source tables it is built from."""
    if name == "dim_location":
        frame = _frame(current["address"]).rename(columns={"address_id": "location_id"})
    elif name == "dim_counterparty":
        address = _frame(current["address"]).add_prefix("counterparty_legal_")
        address = address.rename(
            columns={
                "counterparty_legal_address_id": "legal_address_id",
                "counterparty_legal_phone": "counterparty_legal_phone_number",
            }
        )
        frame = _frame(current["counterparty"]).merge(address, on="legal_address_id", how="left")
    elif name == "dim_staff":
        department = _frame(current["department"])[["department_id", "department_name", "location"]]
        frame = _frame(current["staff"]).merge(department, on="department_id", how="left")
    elif name == "dim_currency":
        frame = _frame(current["currency"])
        frame["currency_name"] = frame["currency_code"].map(CURRENCY_NAMES)
    else:
        (source,) = DIMENSION_SOURCES[name]
        frame = _frame(current[source])
    return _dim_from_frame(name, frame)


def fact_dates(facts: Iterable[pa.Table]) -> set[dt.date]:
    """Every date a fact row refers to (created, last updated, agreed, paid): the rows dim_date needs."""
    dates: set[dt.date] = set()
    for table in facts:
        for field in table.schema:
            if field.type == pa.date32():
                dates.update(d for d in table[field.name].to_pylist() if d is not None)
    return dates


def dim_date(dates: Iterable[dt.date]) -> pa.Table:
    """dim_date rows for the given dates: ISO day of week (Monday = 1), English names, quarter 1-4."""
    days = sorted(set(dates))
    columns = {
        "date_id": days,
        "year": [d.year for d in days],
        "month": [d.month for d in days],
        "day": [d.day for d in days],
        "day_of_week": [d.isoweekday() for d in days],
        "day_name": [d.strftime("%A") for d in days],
        "month_name": [d.strftime("%B") for d in days],
        "quarter": [(d.month - 1) // 3 + 1 for d in days],
    }
    return pa.table(columns, schema=output_schema("dim_date"))


def primary_keys(table_name: str, table: pa.Table) -> list[int]:
    return table[primary_key(table_name)].to_pylist()
