"""The ERP flow as assets: raw objects per OLTP table -> processed star schema -> PostgreSQL warehouse.

Thin wrappers over runner.py (the same functions `shopflow erp ...` calls). Ingestion, transform and load
are each one multi-asset: one connection and one step per stage keep a change's way to the warehouse in
seconds. Outputs are optional, so an asset only materializes when something was written for it, and only
those materializations start the next stage (see automation.py).
"""

import json

import dagster as dg

from shopflow_assets.contracts.erp import (
    CHANGED_COLUMN,
    DEFAULT_SAFETY_LAG_SECONDS,
    DIMENSION_SOURCES,
    DIMENSIONS,
    FACTS,
    PROCESSED_BUCKET,
    RAW_BUCKET,
    RAW_PREFIX,
    SOURCE_DATABASE,
    SOURCE_TABLES,
    WAREHOUSE_SCHEMA,
    WAREHOUSE_TABLES,
)
from shopflow_assets.domains.erp.checks import CHECK_SPECS, dimension_key_checks
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.settings import WAREHOUSE_DATABASE

GROUP = "erp"
RAW_KEYS = {table: dg.AssetKey(["erp", "raw", table]) for table in SOURCE_TABLES}
PROCESSED_KEYS = {name: dg.AssetKey(["erp", "processed", name]) for name in WAREHOUSE_TABLES}
WAREHOUSE_KEYS = {name: dg.AssetKey(["erp", "warehouse", name]) for name in WAREHOUSE_TABLES}


def _processed_sources(name: str) -> list[str]:
    if name in FACTS:
        return [FACTS[name][1]]
    if name == "dim_date":
        return [source for _, source, _, _ in FACTS.values()]
    return list(DIMENSION_SOURCES[name])


class ErpConfig(dg.Config):
    """Where the flow reads and writes (tests point it at their own databases and lake prefix)."""

    source_database: str = SOURCE_DATABASE
    warehouse_database: str = WAREHOUSE_DATABASE
    lake_prefix: str = RAW_PREFIX


class ErpIngestConfig(ErpConfig):
    """Every value here reaches SQL only as a checked identifier or a bound parameter."""

    tables: list[str] | None = None  # None: every table of the contract (within the asset selection)
    changed_column: str = CHANGED_COLUMN
    source_schema: str = "public"
    safety_lag_seconds: float = DEFAULT_SAFETY_LAG_SECONDS


@dg.multi_asset(
    name="erp_raw",
    specs=[
        dg.AssetSpec(
            key,
            skippable=True,
            kinds={"postgres", "s3", "parquet"},
            description=f"Immutable Parquet objects of totesys.{table}'s changes: "
            f"raw-data/erp/{table}/YYYY/MM/DD/<run time>.parquet, one per run that found changes.",
        )
        for table, key in RAW_KEYS.items()
    ],
    can_subset=True,
)
def erp_ingest(
    context: dg.AssetExecutionContext,
    config: ErpIngestConfig,
    postgres: PostgresResource,
    postgres_reader: PostgresResource,
    lake: LakeResource,
):
    from shopflow_assets.domains.erp import runner  # pyarrow and psycopg: at run time, not at load

    selected = [t for t, key in RAW_KEYS.items() if key in context.selected_asset_keys]
    tables = [t for t in selected if config.tables is None or t in config.tables]
    if config.tables is not None:
        tables += [t for t in config.tables if t not in SOURCE_TABLES]  # refused by the runner, by name
    store = lake.get_lake()
    with (
        postgres_reader.connect(database=config.source_database, autocommit=True) as reader,
        postgres.connect(database=config.warehouse_database) as state,
    ):
        result = runner.ingest(
            reader,
            state,
            store,
            tables,
            changed_column=config.changed_column,
            source_schema=config.source_schema,
            safety_lag_seconds=config.safety_lag_seconds,
            prefix=config.lake_prefix,
        )
    for table, entry in result.tables.items():
        summary = {
            "rows": entry.rows,
            "watermark_before": entry.watermark_before.isoformat() if entry.watermark_before else None,
            "watermark_after": entry.watermark_after.isoformat() if entry.watermark_after else None,
            "object": entry.key,
        }
        context.log.info(f"erp ingest {table}: {json.dumps(summary)}")
        if entry.key:
            yield dg.MaterializeResult(
                asset_key=RAW_KEYS[table],
                metadata={
                    "dagster/row_count": entry.rows,
                    "object": dg.MetadataValue.path(store.uri(RAW_BUCKET, entry.key)),
                    "watermark_before": summary["watermark_before"] or "beginning",
                    "watermark_after": summary["watermark_after"],
                },
            )
    if result.failed:
        raise dg.Failure(
            description="ERP ingestion stopped for "
            + "; ".join(entry.error for entry in result.failed.values())
            + f" (the other tables were ingested: {', '.join(result.written) or 'no changes'})",
            metadata={t: e.error for t, e in result.failed.items()},
        )


@dg.multi_asset(
    name="erp_processed",
    specs=[
        dg.AssetSpec(
            key,
            skippable=True,
            deps=[RAW_KEYS[s] for s in _processed_sources(name)],
            kinds={"s3", "parquet"},
            description=f"{name} in processed/erp/{name}/YYYY/MM/DD/<batch>.parquet"
            + (" (the new versions of the batch)" if name in FACTS else " (the latest version of every row)"),
        )
        for name, key in PROCESSED_KEYS.items()
    ],
)
def erp_transform(
    context: dg.AssetExecutionContext, config: ErpConfig, postgres: PostgresResource, lake: LakeResource
):
    from shopflow_assets.domains.erp import runner

    store = lake.get_lake()
    with postgres.connect(database=config.warehouse_database) as state:
        result = runner.transform(state, store, prefix=config.lake_prefix)
    if result.batch_id is None:
        context.log.info("erp transform: no new raw objects")
        return
    context.log.info(f"erp transform batch {result.batch_id}: {json.dumps(result.rows)}")
    # Every table of a batch materializes (rows 0 and no object when the batch did not touch it), so the
    # load downstream in the same run is never skipped for want of one of its inputs.
    for name, asset_key in PROCESSED_KEYS.items():
        key = result.outputs.get(name)
        yield dg.MaterializeResult(
            asset_key=asset_key,
            metadata={
                "rows_in_batch": result.rows.get(name, 0),
                "object": dg.MetadataValue.path(store.uri(PROCESSED_BUCKET, key)) if key else "none",
                "batch": result.batch_id,
            },
        )


@dg.multi_asset(
    name="erp_warehouse",
    specs=[
        dg.AssetSpec(
            key,
            skippable=True,
            deps=[PROCESSED_KEYS[name]],
            kinds={"postgres"},
            description=f"warehouse.{WAREHOUSE_SCHEMA}.{name}: "
            + ("one row per version of the source row" if name in FACTS else "the latest version")
            + (f", keyed by {DIMENSIONS[name][0]}" if name in DIMENSIONS else f", keyed by {FACTS[name][0]}"),
        )
        for name, key in WAREHOUSE_KEYS.items()
    ],
    check_specs=CHECK_SPECS,
)
def erp_load(
    context: dg.AssetExecutionContext, config: ErpConfig, postgres: PostgresResource, lake: LakeResource
):
    from shopflow_assets.domains.erp import runner

    with postgres.connect(database=config.warehouse_database) as warehouse:
        result = runner.load(warehouse, lake.get_lake())
        totals = _table_counts(warehouse)
        checks = dimension_key_checks(warehouse)
    context.log.info(f"erp load batches {result.batches}: {json.dumps(result.rows)}")
    for name, count in result.rows.items():
        yield dg.MaterializeResult(
            asset_key=WAREHOUSE_KEYS[name],
            metadata={
                "rows_loaded": count,
                "dagster/row_count": totals[name],
                "batches": len(result.batches),
            },
        )
    yield from checks


def _table_counts(conn) -> dict[str, int]:
    from psycopg import sql

    return {
        name: conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(
                sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier(name)
            )
        ).fetchone()[0]
        for name in WAREHOUSE_TABLES
    }
