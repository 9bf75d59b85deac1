"""The shop daily batch as assets: landing CSVs -> raw objects -> cleaned tables -> star schema -> dbt gold.

Assets stay thin: the rules live in `transforms.py` and the contracts in `contracts/shop.py`; storage is
the lake resource (raw objects) and the Pandera-checked IO managers (everything after).
"""

import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg

from shopflow_assets.contracts import shop as contract
from shopflow_assets.contracts.shop import raw_object_key
from shopflow_assets.domains.dbt import DbtResource, partition_env, prepared_dbt_assets
from shopflow_assets.domains.shop.partitions import shop_daily_partitions
from shopflow_assets.io_managers.metadata import preview
from shopflow_assets.resources.lake import LakeConflictError, LakeResource
from shopflow_assets.resources.source_files import SourceFilesResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.warehouse import WarehouseResource

PREFIX = "shop"
PARQUET_IO = "shop_parquet_io_manager"
WAREHOUSE_IO = "shop_warehouse_io_manager"
DBT_RESOURCE_KEY = "dbt"


def business_date(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def landing_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey([PREFIX, f"landing_{dataset}_csv"])


def raw_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey([PREFIX, f"raw_{dataset}"])


def clean_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey([PREFIX, f"clean_{dataset}"])


# --- source assets: the generated CSVs of each day ----------------------------------------------------

landing_csvs = [
    dg.AssetSpec(
        key=landing_key(dataset),
        description=(
            f"{contract.RAW_FILE_NAMES[dataset]} of a business day as it lands "
            "($SHOPFLOW_SHOP_LANDING_DIR/YYYY-MM-DD/, written by `shopflow generate shop`)."
        ),
        kinds={"csv"},
        partitions_def=shop_daily_partitions,
        metadata={"columns": ", ".join(contract.RAW_COLUMNS[dataset])},
    )
    for dataset in contract.SHOP_DATASETS
]


# --- raw objects: s3://raw-data/YYYY/MM/DD/<dataset>.csv, never overwritten ------------------------------


def check_header(path_or_bytes: Path | bytes, dataset: str, source: str) -> None:
    """Fail before upload when the file's header is not the contract's columns."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()[:4096]
    header = data.split(b"\n", 1)[0].decode("utf-8-sig").strip().replace('"', "")
    expected = ",".join(contract.RAW_COLUMNS[dataset])
    if header != expected:
        raise ValueError(f"{source}: header {header!r} is not the {dataset} contract's columns {expected!r}")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=raw_key(dataset),
            deps=[landing_key(dataset)],
            description=(
                f"The day's {contract.RAW_FILE_NAMES[dataset]} in the raw layer, s3://raw-data/YYYY/MM/DD/{dataset}.csv. "
                "Immutable: a rerun with the same bytes is a no-op, different bytes fail."
            ),
            kinds={"s3", "csv"},
            partitions_def=shop_daily_partitions,
        )
        for dataset in contract.SHOP_DATASETS
    ],
    name="shop_raw_objects",
    backfill_policy=dg.BackfillPolicy.multi_run(1),
)
def shop_raw_objects(
    context: dg.AssetExecutionContext, lake: LakeResource, source_files: SourceFilesResource
):
    """Upload the day's landing CSVs to the raw layer (retried with backoff by the lake when unreachable).

    When a landing file is absent but its raw object exists (files dropped straight into raw-data,
    which is what the S3 sensor reacts to), the existing object is the day's raw data.
    """
    day = business_date(context)
    store = lake.get_lake()
    for dataset in contract.SHOP_DATASETS:
        key = raw_object_key(day, dataset)
        uri = store.uri("raw-data", key)
        path = source_files.shop_landing_file(day, dataset)
        if path.is_file():
            data = path.read_bytes()
            check_header(data, dataset, str(path))
            try:
                written = store.put_if_absent("raw-data", key, data)
            except LakeConflictError as exc:
                raise dg.Failure(
                    description=(
                        f"{path} differs from the raw object already stored for {day} ({uri}); raw data is never "
                        "overwritten. Restore the original file, or land the corrected data as a new business day."
                    ),
                    metadata={"landing_file": str(path), "raw_object": uri, "error": str(exc)},
                ) from exc
            status = "uploaded" if written else "unchanged (identical object already stored)"
        elif store.exists("raw-data", key):
            data = store.get_bytes("raw-data", key)
            check_header(data, dataset, uri)
            status = "already in the raw layer (no landing file)"
        else:
            raise dg.Failure(
                description=(
                    f"no {contract.RAW_FILE_NAMES[dataset]} for {day}: neither {path} nor {uri} exists. "
                    f"Generate it with `shopflow generate shop --date {day}` or upload it to {uri}."
                )
            )
        sha256 = hashlib.sha256(data).hexdigest()
        context.log.info(f"{dataset}: {uri} {status}")
        yield dg.MaterializeResult(
            asset_key=raw_key(dataset),
            data_version=dg.DataVersion(sha256),
            metadata={
                "path": dg.MetadataValue.path(uri),
                "status": status,
                "bytes": len(data),
                "rows": max(data.count(b"\n") - 1, 0) + (0 if data.endswith(b"\n") or not data else 1),
                "sha256": sha256,
            },
        )


# --- cleaned tables (Spark) ------------------------------------------------------------------------------


class ShopCleaningConfig(dg.Config):
    # a day quarantining more of a file fails at the cleaned tables, not later at the warehouse or gold
    max_quarantine_share: float = contract.DEFAULT_MAX_QUARANTINE_SHARE


@dg.multi_asset(
    outs={
        **{
            f"clean_{dataset}": dg.AssetOut(
                key=clean_key(dataset),
                io_manager_key=PARQUET_IO,
                description=(
                    f"The day's valid {dataset}: required values present, types cast, rules applied, "
                    f"duplicates dropped. Parquet in s3://staging/shop/clean_{dataset}/date=YYYY-MM-DD/."
                ),
                metadata=contract.CLEAN_CONTRACTS[dataset].asset_metadata(),
                kinds={"spark", "parquet"},
            )
            for dataset in contract.SHOP_DATASETS
        },
        "quarantine": dg.AssetOut(
            key=dg.AssetKey([PREFIX, "quarantine"]),
            io_manager_key=PARQUET_IO,
            description=(
                "Every raw row of the day that was not loaded, with the rule it broke, its file, 1-based row "
                "number and raw values. Parquet in s3://quarantine/shop/quarantine/date=YYYY-MM-DD/."
            ),
            metadata=contract.QUARANTINE.asset_metadata(lake_bucket="quarantine"),
            kinds={"spark", "parquet"},
        ),
    },
    deps=[raw_key(dataset) for dataset in contract.SHOP_DATASETS],
    check_specs=[
        dg.AssetCheckSpec(
            contract.QUARANTINE_RATIO_CHECK,
            asset=clean_key(dataset),
            blocking=True,
            description="at most max_quarantine_share of the day's rows quarantined; names rule, column, samples",
        )
        for dataset in contract.SHOP_DATASETS
    ],
    partitions_def=shop_daily_partitions,
    name="shop_cleaned_tables",
    backfill_policy=dg.BackfillPolicy.multi_run(1),
)
def shop_cleaned_tables(
    context: dg.AssetExecutionContext,
    config: ShopCleaningConfig,
    spark: SparkResource,
    lake: LakeResource,
):
    """Clean the day's raw objects with Spark; every input row is either loaded or quarantined."""
    # Spark and pandas are imported by the run, not when the code location loads (docs/runtime.md).
    import pandas as pd

    from shopflow_assets.domains.shop import transforms

    day = business_date(context)
    session = spark.get_session()
    # Arrow makes Spark -> pandas a columnar copy instead of a row-by-row pickle.
    session.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    store = lake.get_lake()

    def read(dataset: str):
        key = raw_object_key(day, dataset)
        return transforms.read_raw_csv(session, store.spark_uri("raw-data", key), dataset), store.uri(
            "raw-data", key
        )

    # One Spark action per raw file: every input row comes back once, ruled, and is split in pandas.
    frames: dict[str, pd.DataFrame] = {}
    quarantined: list[pd.DataFrame] = []
    input_rows: dict[str, int] = {}
    for dataset in contract.SHOP_DATASETS:
        raw_file, source = read(dataset)
        raw = raw_file.frame
        if dataset == "users":
            rows = transforms.clean_users(raw, source)
        elif dataset == "products":
            rows = transforms.clean_products(raw, source)
        else:  # foreign keys against the day's clean users and products, handed back to Spark (ids only)
            users_ids = session.createDataFrame(frames["users"][["user_id"]])
            products_ids = session.createDataFrame(frames["products"][["product_id"]])
            rows = transforms.clean_orders(raw, users_ids, products_ids, source)
        collected = rows.toPandas()
        input_rows[dataset] = raw_file.rows
        frames[dataset], bad = transforms.split_rows(collected, dataset)
        quarantined.append(bad)
        del collected
    quarantine = pd.concat(quarantined, ignore_index=True)

    counts = transforms.count_records(frames, quarantine, input_rows)
    for dataset, frame in frames.items():
        yield dg.Output(frame, output_name=f"clean_{dataset}", metadata=counts[dataset])
    yield dg.Output(
        quarantine,
        output_name="quarantine",
        metadata={
            "records_quarantined": len(quarantine),
            "by_dataset_and_rule": dg.MetadataValue.json(transforms.rule_counts(quarantine)),
            "sample": preview(quarantine),
        },
    )
    for dataset in contract.SHOP_DATASETS:
        ratio = transforms.quarantine_ratio(
            dataset, input_rows[dataset], quarantine, config.max_quarantine_share
        )
        yield dg.AssetCheckResult(
            asset_key=clean_key(dataset),
            check_name=transforms.QUARANTINE_RATIO_CHECK,
            passed=ratio.passed,
            description=ratio.description(),
            metadata={
                "input": ratio.input_rows,
                "quarantined": ratio.quarantined,
                "share": round(ratio.share, 4),
                "max_share": ratio.max_share,
                "rule": ratio.rule or "",
                "column": ratio.column or "",
                "samples": list(ratio.samples),
            },
        )


# --- star schema in the warehouse ------------------------------------------------------------------------


@dg.multi_asset(
    outs={
        table: dg.AssetOut(
            key=dg.AssetKey([PREFIX, table]),
            io_manager_key=WAREHOUSE_IO,
            description=(
                f"{table_contract.description} Warehouse table `{table}` (DuckDB by default), loaded per day, "
                "idempotently."
            ),
            metadata=table_contract.asset_metadata(),
            kinds={"duckdb", "table"},
        )
        for table, table_contract in contract.STAR_CONTRACTS.items()
    },
    ins={f"clean_{dataset}": dg.AssetIn(key=clean_key(dataset)) for dataset in contract.SHOP_DATASETS},
    partitions_def=shop_daily_partitions,
    name="shop_star_schema",
    backfill_policy=dg.BackfillPolicy.multi_run(1),
)
def shop_star_schema(
    context: dg.AssetExecutionContext,
    # pandas frames from the Parquet IO manager; not annotated, as Dagster would resolve `pd.DataFrame`
    # (importing pandas) when the code location loads
    clean_users,
    clean_products,
    clean_orders,
):
    """Join Orders <-> Users <-> Products into the day's dimensions and fact rows."""
    from shopflow_assets.domains.shop import transforms

    day = business_date(context)
    fact = transforms.build_fact_orders(clean_orders, clean_users, clean_products, day)
    revenue = round(float(fact["total_amount"].sum()), 2)
    yield dg.Output(transforms.build_dim_users(clean_users, day), output_name="dim_users")
    yield dg.Output(transforms.build_dim_products(clean_products, day), output_name="dim_products")
    yield dg.Output(transforms.build_dim_date([day]), output_name="dim_date")
    yield dg.Output(
        fact,
        output_name="fact_orders",
        metadata={"records_in": len(clean_orders), "records_loaded": len(fact), "revenue": revenue},
    )


# --- gold: the shop's dbt models; dbt tests show up as asset checks --------------------------------


# dagster-dbt's definition (translator, selection, backfill policy) is in dbt_models.py: it imports dbt-core,
# so the code location loads these assets from the specs `shopflow dbt-prepare` wrote (domains/dbt.py).
@prepared_dbt_assets("shop_dbt_models", partitions_def=shop_daily_partitions)
def shop_dbt_models(context: dg.AssetExecutionContext, dbt: DbtResource, warehouse: WarehouseResource):
    """`dbt build` of the shop models for the partition's days: models, then their tests (as checks)."""
    window = context.partition_time_window
    with warehouse.dbt_environment(extra=partition_env(window.start, window.end)):
        yield from dbt.cli(["build"], context=context).stream()
