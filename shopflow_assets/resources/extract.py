"""THE PostgreSQL extraction component: the rows of one table that changed inside a window, as Arrow.

Every flow that reads an operational database (the ERP tables, the marketplace app's tables) goes through
`extract_changes`, so the rules live once:
- the window is `after < changed_column <= up_to` (tz-aware UTC); `ChangeWindow.for_day` is one UTC day;
- values only ever travel as bound parameters; table, schema and column names are checked against a
  strict pattern AND quoted as identifiers, so neither a crafted name nor a crafted value runs SQL;
- the transaction is read-only; the rows stream out as `COPY (SELECT ...) TO STDOUT` CSV that pyarrow
  parses block by block straight into Arrow (no Python object per value; memory bounded by the block);
- Arrow types come from the catalog and are exact (numeric(p,s) -> decimal128(p,s), never float).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

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
        # One transaction for the catalog, the session settings and the COPY.
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
    # COPY takes no server-side parameters: psycopg binds the values client-side as quoted literals
    # of their type (never by string formatting), so a value still cannot become SQL.
    copy_sql = sql.SQL("copy ({query}) to stdout (format csv)").format(query=query)
    where = f"{schema}.{table} of database {conn.info.dbname!r}"
    with _text_settings(conn), conn.cursor() as cursor, cursor.copy(copy_sql, params) as copy:
        batches = _read_csv(_CopyStream(copy), arrow_schema, batch_rows, where)
    return pa.Table.from_batches(batches, schema=arrow_schema)


# The text PostgreSQL writes must not depend on the caller's session: ISO dates, UTC offsets, and
# shortest-exact doubles (PostgreSQL >= 12 prints a float8 that reads back bit for bit).
_TEXT_SETTINGS = {"DateStyle": "ISO, YMD", "TimeZone": "UTC", "extra_float_digits": "1"}


@contextmanager
def _text_settings(conn: Any) -> Iterator[None]:
    """Fix the output settings for this transaction (set_config(..., true)), then put back the caller's:
    inside a caller's transaction the savepoint's release would otherwise keep them until it ends."""
    names = list(_TEXT_SETTINGS)
    previous = conn.execute("select " + ", ".join("current_setting(%s)" for _ in names), names).fetchone()
    _set_local(conn, _TEXT_SETTINGS)
    yield
    _set_local(conn, dict(zip(names, previous, strict=True)))


def _set_local(conn: Any, settings: dict[str, str]) -> None:
    conn.execute(
        "select " + ", ".join("set_config(%s, %s, true)" for _ in settings),
        [part for pair in settings.items() for part in pair],
    )


class _CopyStream(io.RawIOBase):
    """The bytes of a running COPY as a read-only file, chunk by chunk (what pyarrow's reader pulls)."""

    def __init__(self, copy: Any) -> None:
        self._copy = copy
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._copy.read()
            if not chunk:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def at_end(self) -> bool:
        """True when the COPY sent no bytes at all (read before anything else)."""
        if not self._pending:
            self._pending = memoryview(self._copy.read())
        return not self._pending


def _read_csv(
    stream: _CopyStream, arrow_schema: pa.Schema, batch_rows: int, where: str
) -> list[pa.RecordBatch]:
    """PostgreSQL's CSV, parsed by pyarrow straight into the exact types, block by block.

    In PostgreSQL's CSV a NULL is an unquoted empty field and an empty string is `""`, so quoted fields
    are never NULL; a one-column row holding NULL is an empty line, so empty lines are rows.
    """
    if stream.at_end():
        return []
    reader = pa_csv.open_csv(
        io.BufferedReader(stream, buffer_size=1 << 20),
        read_options=pa_csv.ReadOptions(
            column_names=arrow_schema.names,
            # pyarrow cuts blocks by bytes: about batch_rows rows of ~128 bytes, within 64 KiB..16 MiB.
            block_size=min(max(batch_rows * 128, 1 << 16), 1 << 24),
            use_threads=False,
        ),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=arrow_schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )
    try:
        return list(reader)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise ExtractError(f"{where}: cannot convert to the catalog's types: {exc}") from exc
