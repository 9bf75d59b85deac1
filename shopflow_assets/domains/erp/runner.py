"""The three stages of the ERP flow as plain functions over connections and the lake.

Dagster assets, `shopflow erp ...` and the benchmark all call these, so every way of running the flow runs
the same code. State lives in the warehouse database, schema `erp_state`, next to the star it describes:

- ingest:    OLTP (read-only role) -> new immutable Parquet objects in raw-data/erp/<table>/YYYY/MM/DD/;
             then the watermarks of the tables read advance, all in one transaction.
- transform: raw objects not folded yet -> processed/erp/<table>/YYYY/MM/DD/<batch>.parquet (facts: the
             new versions; dims: the full latest version), recorded as one pending batch.
- load:      pending batches -> schema `erp` of the warehouse, one transaction per batch, marked loaded in it.

Each stage serialises with itself through a PostgreSQL advisory lock, so two runs never interleave.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from shopflow_assets.contracts.erp import (
    CHANGED_COLUMN,
    DEFAULT_SAFETY_LAG_SECONDS,
    DIMENSIONS,
    FACTS,
    PROCESSED_BUCKET,
    PROCESSED_PREFIX,
    RAW_BUCKET,
    RAW_PREFIX,
    SOURCE_TABLES,
    SOURCE_VERSION_COLUMN,
    STATE_SCHEMA,
    WAREHOUSE_SCHEMA,
    primary_key,
    schema_drift,
    warehouse_ddl,
)
from shopflow_assets.domains.erp import transforms
from shopflow_assets.resources.extract import (
    ChangeWindow,
    ExtractError,
    checked_identifier,
    extract_changes,
    server_now,
    source_columns,
)
from shopflow_assets.resources.lake import Lake, LakeError, LakeKeyNotFoundError

log = logging.getLogger("shopflow.erp")

# Advisory-lock ids (arbitrary, fixed): one per stage.
_LOCKS = {"ingest": 7_001_001, "transform": 7_001_002, "load": 7_001_003}


class SchemaDriftError(ExtractError):
    """A source table's columns differ from the contract: that table is not ingested."""


class UnknownTableError(ExtractError):
    """A table that is not part of the ERP source contract was asked for."""


class LakeStateLostError(LakeError):
    """The ERP state in PostgreSQL names lake objects that are gone (the lake was lost, PostgreSQL kept)."""


class ResyncError(ExtractError):
    """`shopflow erp resync` could not read every source table: nothing of it was kept."""


RESYNC_COMMAND = "shopflow erp resync"


def lost_lake_message(state: Any, lake: Lake, missing: str) -> str:
    """One line: what is gone, why the flow cannot go on, and what to run."""
    return (
        f"ERP state in PostgreSQL database {state.info.dbname} ({STATE_SCHEMA}) names {missing}, which is "
        f"not in the lake ({lake.describe()}): the lake lost the ERP objects while PostgreSQL kept the "
        f"state; run `{RESYNC_COMMAND}` to rebuild the processed layer and the warehouse from totesys"
    )


def missing_lake_object(state: Any, lake: Lake) -> str | None:
    """The first lake object the ERP state relies on that is gone, as bucket/key; None when all are there.

    Checked: the last raw object of each table, each table's folded current state (the next transform reads
    it) and the outputs of batches not loaded yet: a few HEAD requests per run.
    """
    references = [
        (RAW_BUCKET, key)
        for (key,) in state.execute(
            f"SELECT raw_key FROM {STATE_SCHEMA}.watermark WHERE raw_key IS NOT NULL ORDER BY source_table"  # nosec B608 # constant schema/table names
        ).fetchall()
    ]
    references += [
        (PROCESSED_BUCKET, key)
        for (key,) in state.execute(
            f"SELECT snapshot_key FROM {STATE_SCHEMA}.source_snapshot ORDER BY source_table"  # nosec B608 # constant schema/table names
        ).fetchall()
    ]
    for (outputs,) in state.execute(
        f"SELECT outputs FROM {STATE_SCHEMA}.processed_batch WHERE loaded_at IS NULL ORDER BY batch_id"  # nosec B608 # constant schema/table names
    ).fetchall():
        references += [(PROCESSED_BUCKET, key) for key in outputs.values()]
    for bucket, key in references:
        if not lake.exists(bucket, key):
            return f"{bucket}/{key}"
    return None


def check_lake_matches_state(state: Any, lake: Lake) -> None:
    """Stop a run whose state points at lost objects, before it moves anything, with what to run."""
    missing = missing_lake_object(state, lake)
    if missing is not None:
        raise LakeStateLostError(lost_lake_message(state, lake, missing))


@contextmanager
def _explain_lost_objects(state: Any, lake: Lake) -> Iterator[None]:
    """An object the state names that vanished during a run: the same one line as the check."""
    try:
        yield
    except LakeKeyNotFoundError as exc:
        raise LakeStateLostError(lost_lake_message(state, lake, exc.location)) from exc


def run_stamp(moment: dt.datetime) -> str:
    """Fixed-width UTC stamp: object keys sort in the order they were written."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def dated_key(prefix: str, name: str, moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return f"{prefix}/{name}/{moment:%Y/%m/%d}/{run_stamp(moment)}.parquet"


def to_parquet(table: pa.Table, metadata: dict[str, str] | None = None) -> bytes:
    if metadata:
        existing = table.schema.metadata or {}
        table = table.replace_schema_metadata(
            {**existing, **{k.encode(): v.encode() for k, v in metadata.items()}}
        )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def read_parquet(lake: Lake, bucket: str, key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(lake.get_bytes(bucket, key)))


def ensure_warehouse(conn: Any) -> None:
    """Create schemas `erp` and `erp_state` and their tables if missing (idempotent)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(7001000)")  # concurrent first runs: one creates
        for statement in warehouse_ddl():
            cur.execute(statement)


def _lock(conn: Any, stage: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCKS[stage],))


_PREFIX = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")


def checked_prefix(prefix: str) -> str:
    """A lake prefix of plain lower-case segments: nothing can climb out of the flow's folders."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise LakeError(f"invalid lake prefix {prefix!r}: '/'-separated segments of a-z, 0-9 and '_'")
    return prefix


def checked_tables(tables: Iterable[str] | None) -> list[str]:
    """The requested tables, each a valid identifier AND part of the contract (anything else is refused)."""
    if tables is None:
        return list(SOURCE_TABLES)
    result = []
    for table in tables:
        checked_identifier(table, "ERP table")
        if table not in SOURCE_TABLES:
            raise UnknownTableError(
                f"totesys table {table!r} is not part of the ERP contract ({', '.join(SOURCE_TABLES)})"
            )
        result.append(table)
    return result


# --- ingest -------------------------------------------------------------------------------------------
@dataclass
class TableIngest:
    table: str
    watermark_before: dt.datetime | None
    watermark_after: dt.datetime | None = None
    rows: int = 0
    key: str | None = None
    error: str | None = None


@dataclass
class IngestResult:
    run_time: dt.datetime
    up_to: dt.datetime
    tables: dict[str, TableIngest] = field(default_factory=dict)

    @property
    def written(self) -> dict[str, TableIngest]:
        return {t: r for t, r in self.tables.items() if r.key}

    @property
    def failed(self) -> dict[str, TableIngest]:
        return {t: r for t, r in self.tables.items() if r.error}


def change_bound(reader: Any, safety_lag_seconds: float) -> tuple[dt.datetime, dt.datetime]:
    """(run time, upper bound of this run's window) from the source's own clock.

    last_updated is stamped with clock_timestamp() at the row write, but becomes visible only at commit. A
    row written before the bound by a transaction still open now would be skipped for ever, so the bound
    stays below the start of every open writing transaction we can see (all of them when the reader has
    pg_read_all_stats) and `safety_lag_seconds` behind the clock for those we cannot.
    """
    now = server_now(reader)
    up_to = now - dt.timedelta(seconds=safety_lag_seconds)
    with reader.transaction():
        oldest = reader.execute(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    if oldest is not None and oldest - dt.timedelta(microseconds=1) < up_to:
        up_to = oldest - dt.timedelta(microseconds=1)
    return now, up_to


def read_watermarks(state: Any) -> dict[str, dt.datetime]:
    rows = state.execute(f"SELECT source_table, last_updated FROM {STATE_SCHEMA}.watermark").fetchall()  # nosec B608 # constant schema/table names; values are bound
    return dict(rows)


def ingest(
    reader: Any,
    state: Any,
    lake: Lake,
    tables: Sequence[str] | None = None,
    *,
    changed_column: str = CHANGED_COLUMN,
    source_schema: str = "public",
    safety_lag_seconds: float = DEFAULT_SAFETY_LAG_SECONDS,
    prefix: str = RAW_PREFIX,
) -> IngestResult:
    """Extract every table's changes since its watermark into new raw objects, then advance the watermarks.

    A schema-drifted table is skipped with its error (the others go on); any other failure (the lake, the
    source) raises before a single watermark moves, so the next run reads the same window again.
    """
    tables = checked_tables(tables)
    checked_prefix(prefix)
    checked_identifier(changed_column, "changed column")
    checked_identifier(source_schema, "source schema")
    ensure_warehouse(state)
    with state.transaction():
        _lock(state, "ingest")  # held until the watermarks commit: runs never interleave
        check_lake_matches_state(state, lake)  # the first stage of a run says a lost lake, in one line
        watermarks = read_watermarks(state)
        run_time, up_to = change_bound(reader, safety_lag_seconds)
        result = IngestResult(run_time=run_time, up_to=up_to)
        for table in tables:
            before = watermarks.get(table)
            entry = result.tables[table] = TableIngest(table, before)
            try:
                drift = schema_drift(table, source_columns(reader, table, schema=source_schema))
            except ExtractError as exc:  # the table itself is gone
                drift = [str(exc)]
            if drift:
                entry.error = f"schema drift in totesys.{source_schema}.{table}: " + "; ".join(drift)
                log.error("erp ingest %s", entry.error)
                continue
            if before is not None and before >= up_to:
                entry.watermark_after = before
                continue
            window = ChangeWindow(after=before, up_to=up_to)
            rows = extract_changes(
                reader, table, changed_column=changed_column, window=window, schema=source_schema
            )
            entry.rows = rows.num_rows
            entry.watermark_after = up_to
            if rows.num_rows:
                key = dated_key(prefix, table, run_time)
                metadata = {
                    "shopflow.erp.window_after": before.isoformat() if before else "",
                    "shopflow.erp.window_up_to": up_to.isoformat(),
                }
                lake.put_if_absent(RAW_BUCKET, key, to_parquet(rows, metadata))
                entry.key = key
        for entry in result.tables.values():
            if entry.error is None:
                state.execute(
                    f"INSERT INTO {STATE_SCHEMA}.watermark (source_table, last_updated, raw_key, rows) "  # nosec B608 # constant schema/table names; values are bound
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (source_table) DO UPDATE SET "
                    "last_updated = EXCLUDED.last_updated, raw_key = coalesce(EXCLUDED.raw_key, "
                    f"{STATE_SCHEMA}.watermark.raw_key), rows = EXCLUDED.rows, updated_at = now()",
                    (entry.table, entry.watermark_after, entry.key, entry.rows),
                )
    for entry in result.tables.values():
        log.info(
            "erp ingest %s",
            json.dumps(
                {
                    "table": entry.table,
                    "rows": entry.rows,
                    "watermark_before": entry.watermark_before.isoformat()
                    if entry.watermark_before
                    else None,
                    "watermark_after": entry.watermark_after.isoformat() if entry.watermark_after else None,
                    "object": entry.key,
                    "error": entry.error,
                }
            ),
        )
    return result


# --- transform ----------------------------------------------------------------------------------------
@dataclass
class TransformResult:
    batch_id: str | None
    raw_keys: dict[str, list[str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def _snapshots(state: Any) -> dict[str, tuple[str, str]]:
    rows = state.execute(
        f"SELECT source_table, last_raw_key, snapshot_key FROM {STATE_SCHEMA}.source_snapshot"  # nosec B608 # constant schema/table names; values are bound
    ).fetchall()
    return {table: (last, snapshot) for table, last, snapshot in rows}


def transform(
    state: Any,
    lake: Lake,
    prefix: str = PROCESSED_PREFIX,
    raw_keys: Mapping[str, list[str]] | None = None,
) -> TransformResult:
    """Fold the raw objects not seen yet into the star schema's processed objects (one pending batch).

    `raw_keys` (resync): fold exactly these objects per table instead of those newer than the last folded.
    """
    checked_prefix(prefix)
    ensure_warehouse(state)
    with state.transaction(), _explain_lost_objects(state, lake):
        _lock(state, "transform")
        snapshots = _snapshots(state)
        pending: dict[str, list[str]] = {}
        for table in SOURCE_TABLES:
            if raw_keys is not None:
                new = list(raw_keys.get(table, []))
            else:
                last = snapshots.get(table, (None, None))[0]
                keys = lake.list_keys(RAW_BUCKET, f"{prefix}/{table}/")
                new = [k for k in keys if last is None or k > last]
            if new:
                pending[table] = new
        if not pending:
            return TransformResult(batch_id=None)
        batch_time = server_now(state)
        batch_id = run_stamp(batch_time)
        changes = {t: [read_parquet(lake, RAW_BUCKET, k) for k in keys] for t, keys in pending.items()}

        current: dict[str, pa.Table] = {}

        def current_of(table: str) -> pa.Table | None:
            if table not in current:
                tables = changes.get(table, [])
                if table in snapshots:
                    tables = [read_parquet(lake, PROCESSED_BUCKET, snapshots[table][1]), *tables]
                tables = [t for t in tables if t.num_rows]
                current[table] = transforms.latest_versions(tables, primary_key(table)) if tables else None
            return current[table]

        result = TransformResult(batch_id=batch_id, raw_keys=pending)
        outputs: dict[str, pa.Table] = {}
        for name, (_, source, _, _) in FACTS.items():
            if source in changes:
                outputs[name] = transforms.fact_rows(name, pa.concat_tables(changes[source]))
        for name, sources in transforms.DIMENSION_SOURCES.items():
            if any(s in changes for s in sources):
                inputs = {s: current_of(s) for s in sources}
                if all(t is not None for t in inputs.values()):
                    outputs[name] = transforms.dimension(name, inputs)
        dates = transforms.fact_dates(outputs[n] for n in FACTS if n in outputs)
        if dates:
            outputs["dim_date"] = transforms.dim_date(dates)
        for name, table in outputs.items():
            key = dated_key(prefix, name, batch_time)
            lake.put_if_absent(PROCESSED_BUCKET, key, to_parquet(table))
            result.outputs[name], result.rows[name] = key, table.num_rows
        # The folded current state of each changed source table, for the next batch's dimensions.
        for table in pending:
            folded = current_of(table)
            snapshot_key = dated_key(f"{prefix}/_current", table, batch_time)
            lake.put_if_absent(PROCESSED_BUCKET, snapshot_key, to_parquet(folded))
            state.execute(
                f"INSERT INTO {STATE_SCHEMA}.source_snapshot VALUES (%s, %s, %s, %s) "  # nosec B608 # constant schema/table names; values are bound
                "ON CONFLICT (source_table) DO UPDATE SET last_raw_key = EXCLUDED.last_raw_key, "
                "snapshot_key = EXCLUDED.snapshot_key, rows = EXCLUDED.rows",
                (table, pending[table][-1], snapshot_key, folded.num_rows),
            )
        state.execute(
            f"INSERT INTO {STATE_SCHEMA}.processed_batch (batch_id, raw_keys, outputs) VALUES (%s, %s, %s)",  # nosec B608 # constant schema/table names; values are bound
            (batch_id, json.dumps(pending), json.dumps(result.outputs)),
        )
    log.info("erp transform %s", json.dumps({"batch": batch_id, "rows": result.rows}))
    return result


# --- load ---------------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    batches: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def _copy_into_temp(conn: Any, name: str, table: pa.Table) -> str:
    temp = f"_load_{name}"
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names)
    conn.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {}.{} WITH NO DATA").format(
            sql.Identifier(temp), columns, sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(name)
        )
    )
    with (
        conn.cursor() as cur,
        cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(temp), columns)) as copy,
    ):
        for row in table.to_pylist():
            copy.write_row([row[c] for c in table.column_names])
    return temp


def upsert(conn: Any, name: str, table: pa.Table) -> int:
    """Dims: insert or update to the latest version. Facts: append versions; a re-load updates in place."""
    conflict = [DIMENSIONS[name][0]] if name in DIMENSIONS else [FACTS[name][2], SOURCE_VERSION_COLUMN]
    temp = _copy_into_temp(conn, name, table)
    columns = table.column_names
    updates = [c for c in columns if c not in conflict]
    statement = sql.SQL(
        "INSERT INTO {schema}.{table} ({columns}) SELECT {columns} FROM {temp} "
        "ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    ).format(
        schema=sql.Identifier(WAREHOUSE_SCHEMA),
        table=sql.Identifier(name),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        temp=sql.Identifier(temp),
        conflict=sql.SQL(", ").join(sql.Identifier(c) for c in conflict),
        updates=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in updates),
    )
    count = conn.execute(statement).rowcount
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(temp)))
    return count


# Dims before facts, dim_date first: a reader of the warehouse never sees a fact without its dims.
_LOAD_ORDER = ("dim_date", *[d for d in DIMENSIONS if d != "dim_date"], *FACTS)


def load(warehouse: Any, lake: Lake) -> LoadResult:
    """Load every pending batch, oldest first, each in one transaction that also marks it loaded."""
    ensure_warehouse(warehouse)
    result = LoadResult()
    while True:
        with warehouse.transaction(), _explain_lost_objects(warehouse, lake):
            _lock(warehouse, "load")
            row = warehouse.execute(
                f"SELECT batch_id, outputs FROM {STATE_SCHEMA}.processed_batch "  # nosec B608 # constant schema/table names; values are bound
                "WHERE loaded_at IS NULL ORDER BY batch_id LIMIT 1"
            ).fetchone()
            if row is None:
                break
            batch_id, outputs = row
            for name in _LOAD_ORDER:
                if name in outputs:
                    count = upsert(warehouse, name, read_parquet(lake, PROCESSED_BUCKET, outputs[name]))
                    result.rows[name] = result.rows.get(name, 0) + count
            warehouse.execute(
                f"UPDATE {STATE_SCHEMA}.processed_batch SET loaded_at = now() WHERE batch_id = %s",  # nosec B608 # constant schema/table names; values are bound
                (batch_id,),
            )
            result.batches.append(batch_id)
    log.info("erp load %s", json.dumps({"batches": result.batches, "rows": result.rows}))
    return result


# --- resync -------------------------------------------------------------------------------------------
@dataclass
class ResyncResult:
    ingest: IngestResult
    transform: TransformResult
    load: LoadResult


def resync(
    reader: Any,
    state: Any,
    lake: Lake,
    *,
    prefix: str = RAW_PREFIX,
    safety_lag_seconds: float = DEFAULT_SAFETY_LAG_SECONDS,
) -> ResyncResult:
    """Rebuild the processed layer and the warehouse from totesys after the lake lost the ERP objects.

    One transaction of the warehouse database holding every stage's lock: the ERP state is cleared, every
    table is extracted whole into new raw objects, exactly those are folded (objects left from before are
    ignored) and loaded. Loads upsert (dims by key, facts by source id and version), so the warehouse keeps
    its fact history and no row doubles. Any failure rolls all of it back; the state stays as it was.
    """
    checked_prefix(prefix)
    ensure_warehouse(state)
    with state.transaction():
        for stage in _LOCKS:  # always in this order; a stage run holds only its own: no deadlock
            _lock(state, stage)
        for table in ("watermark", "source_snapshot", "processed_batch"):
            state.execute(f"DELETE FROM {STATE_SCHEMA}.{table}")  # nosec B608 # constant schema/table names
        ingested = ingest(reader, state, lake, safety_lag_seconds=safety_lag_seconds, prefix=prefix)
        if ingested.failed:
            raise ResyncError(
                "erp resync stopped, nothing changed: "
                + "; ".join(entry.error or "" for entry in ingested.failed.values())
            )
        folded = transform(
            state, lake, prefix=prefix, raw_keys={t: [e.key] for t, e in ingested.written.items() if e.key}
        )
        _mark_leftovers_folded(state, lake, prefix, [t for t in SOURCE_TABLES if t not in folded.raw_keys])
        loaded = load(state, lake)
    log.info("erp resync %s", json.dumps({"batch": folded.batch_id, "rows": loaded.rows}))
    return ResyncResult(ingest=ingested, transform=folded, load=loaded)


def _mark_leftovers_folded(state: Any, lake: Lake, prefix: str, empty_tables: Sequence[str]) -> None:
    """A table empty at the resync over raw objects from before: record them as folded into an empty
    current state, so that no later transform reads them (they may hold rows of a source since reset)."""
    moment = server_now(state)
    for table in empty_tables:
        leftovers = lake.list_keys(RAW_BUCKET, f"{prefix}/{table}/")
        if not leftovers:
            continue
        snapshot_key = dated_key(f"{prefix}/_current", table, moment)
        lake.put_if_absent(PROCESSED_BUCKET, snapshot_key, to_parquet(pa.table({})))
        state.execute(
            f"INSERT INTO {STATE_SCHEMA}.source_snapshot VALUES (%s, %s, %s, 0)",  # nosec B608 # constant schema/table names; values are bound
            (table, leftovers[-1], snapshot_key),
        )
