"""THE PostgreSQL extraction component: the rows of one table that changed inside a window, as Arrow.

Every flow that reads an operational database (the ERP tables, the marketplace app's tables) goes through
`extract_changes`, so the rules live once:
- the window is `after < changed_column <= up_to` (tz-aware UTC); `ChangeWindow.for_day` is one UTC day;
- values only ever travel as bound parameters; table, schema and column names are checked against a
  strict pattern AND quoted as identifiers, so neither a crafted name nor a crafted value runs SQL;
- the transaction is read-only, and a server-side cursor streams the rows in batches (bounded memory);
- Arrow types come from the catalog and are exact (numeric(p,s) -> decimal128(p,s), never float).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

IDENTIFIER_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
ONE_MICROSECOND = dt.timedelta(microseconds=1)


class ExtractError(RuntimeError):
    """An extraction failed; the message names the database, table, column and the reason."""


class InvalidIdentifierError(ExtractError):
    """A table, schema or column name that is not a plain lower-case SQL identifier."""


def checked_identifier(name: str, what: str = "identifier") -> str:
    """`name` if it is a plain identifier (lower-case letters, digits, `_`; at most 63), else an error."""
    if not isinstance(name, str) or not IDENTIFIER_PATTERN.fullmatch(name):
        raise InvalidIdentifierError(
            f"invalid {what} {name!r}: names must match {IDENTIFIER_PATTERN.pattern} "
            "(lower-case letters, digits and '_', not starting with a digit)"
        )
    return name


def _utc(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None:
        raise ExtractError(f"{what} {value.isoformat()} has no time zone: window bounds are UTC instants")
    return value.astimezone(dt.UTC)


@dataclass(frozen=True)
class ChangeWindow:
    """The rows with `after < changed_column <= up_to`; `after=None` means from the beginning."""

    after: dt.datetime | None
    up_to: dt.datetime

    def __post_init__(self) -> None:
        up_to = _utc(self.up_to, "window end")
        after = None if self.after is None else _utc(self.after, "window start")
        if after is not None and after > up_to:
            raise ExtractError(f"empty window: start {after.isoformat()} is after end {up_to.isoformat()}")
        object.__setattr__(self, "up_to", up_to)
        object.__setattr__(self, "after", after)

    @classmethod
    def for_day(cls, day: dt.date) -> ChangeWindow:
        """Exactly the UTC day [00:00, next 00:00). PostgreSQL timestamps have microsecond resolution,
        so shifting both bounds by one microsecond turns the half-open day into this class's (after, up_to]."""
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        return cls(after=start - ONE_MICROSECOND, up_to=start + dt.timedelta(days=1) - ONE_MICROSECOND)

    def describe(self) -> str:
        start = self.after.isoformat() if self.after else "-infinity"
        return f"({start}, {self.up_to.isoformat()}]"


def server_now(conn: Any) -> dt.datetime:
    """The database's clock (tz-aware UTC): run watermarks come from here, never from the client's."""
    (now,) = conn.execute("select now()").fetchone()
    return now.astimezone(dt.UTC)


_CATALOG_SQL = """
select a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
       information_schema._pg_numeric_precision(a.atttypid, a.atttypmod),
       information_schema._pg_numeric_scale(a.atttypid, a.atttypmod)
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
where n.nspname = %(schema)s and c.relname = %(table)s and c.relkind in ('r', 'p', 'v', 'm')
  and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""


def _catalog(conn: Any, table: str, schema: str) -> list[tuple[str, str, str, int | None, int | None]]:
    checked_identifier(schema, "schema")
    checked_identifier(table, "table")
    rows = conn.execute(_CATALOG_SQL, {"schema": schema, "table": table}).fetchall()
    if not rows:
        raise ExtractError(
            f"table {schema}.{table} does not exist in database {conn.info.dbname!r} "
            "(or the role cannot see it)"
        )
    return rows


def source_columns(conn: Any, table: str, schema: str = "public") -> dict[str, str]:
    """Ordered column name -> type as `format_type()` prints it, e.g. "numeric(10,2)". For drift checks."""
    return {name: type_text for name, type_text, *_ in _catalog(conn, table, schema)}


_ARROW_TYPES = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
}


def arrow_type(typname: str, precision: int | None, scale: int | None) -> pa.DataType:
    """The exact Arrow type of a PostgreSQL column; unknown types travel as their text."""
    if typname == "numeric":
        # An unconstrained numeric has no declared scale: keep 38 digits with 10 after the point.
        return pa.decimal128(precision, scale) if precision else pa.decimal128(38, 10)
    return _ARROW_TYPES.get(typname, pa.string())


def extract_changes(
    conn: Any,
    table: str,
    *,
    changed_column: str,
    window: ChangeWindow,
    columns: Sequence[str] | None = None,
    schema: str = "public",
    batch_rows: int = 100_000,
) -> pa.Table:
    """The rows of `schema.table` whose `changed_column` lies in `window`, ordered by it, as Arrow.

    On an idle connection the catalog look-up and the query share one READ ONLY transaction; inside a
    caller's transaction they run in a savepoint of it (the reader role is read-only regardless).
    """
    from psycopg.pq import TransactionStatus

    idle = conn.info.transaction_status == TransactionStatus.IDLE
    previous_read_only = conn.read_only
    if idle:
        conn.read_only = True
    try:
        # A named (server-side) cursor needs a transaction.
        with conn.transaction():
            return _extract(conn, table, changed_column, window, columns, schema, batch_rows)
    finally:
        if idle:
            conn.read_only = previous_read_only


def _extract(
    conn: Any,
    table: str,
    changed_column: str,
    window: ChangeWindow,
    columns: Sequence[str] | None,
    schema: str,
    batch_rows: int,
) -> pa.Table:
    from psycopg import sql

    catalog = {
        name: (typname, precision, scale)
        for name, _, typname, precision, scale in _catalog(conn, table, schema)
    }
    checked_identifier(changed_column, "column")
    wanted = list(columns) if columns is not None else list(catalog)
    for name in [*wanted, changed_column]:
        checked_identifier(name, "column")
        if name not in catalog:
            raise ExtractError(
                f"column {name!r} is not in {schema}.{table} of database {conn.info.dbname!r} "
                f"(it has {', '.join(catalog)})"
            )
    arrow_schema = pa.schema([(name, arrow_type(*catalog[name])) for name in wanted])
    column = sql.Identifier(changed_column)
    where = sql.SQL("{col} <= %(up_to)s").format(col=column)
    if window.after is not None:
        where = sql.SQL("{col} > %(after)s and ").format(col=column) + where
    query = sql.SQL("select {cols} from {schema}.{table} where {where} order by {col}").format(
        cols=sql.SQL(", ").join(sql.Identifier(name) for name in wanted),
        schema=sql.Identifier(schema),
        table=sql.Identifier(table),
        where=where,
        col=column,
    )
    params = {"after": window.after, "up_to": window.up_to}
    batches: list[pa.RecordBatch] = []
    with conn.cursor(name=f"extract_{table}") as cursor:
        cursor.itersize = batch_rows
        cursor.execute(query, params)
        while rows := cursor.fetchmany(batch_rows):
            batches.append(_to_batch(rows, arrow_schema, schema, table))
    return pa.Table.from_batches(batches, schema=arrow_schema)


def _to_batch(rows: list[tuple], arrow_schema: pa.Schema, schema: str, table: str) -> pa.RecordBatch:
    arrays = []
    for index, field in enumerate(arrow_schema):
        values = [row[index] for row in rows]
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            # As UTC wall-clock time: with PYARROW_IGNORE_TIMEZONE=1 (set by pandera on import) pyarrow drops
            # the offset of an aware datetime, which shifts values read in a non-UTC session time zone.
            values = [None if value is None else value.astimezone(dt.UTC) for value in values]
        if pa.types.is_string(field.type):
            values = [None if value is None else str(value) for value in values]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise ExtractError(
                f"{schema}.{table}.{field.name}: cannot convert to {field.type}: {exc}"
            ) from exc
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)
