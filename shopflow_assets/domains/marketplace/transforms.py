"""Pure Spark DataFrame functions of the Olist flow (tested on small local data, no Delta, no Kafka).

Bronze: parse a topic's messages into the contract's string columns, or a dead-letter reason. A message bronze
cannot use: not JSON / not an object, a primary key missing, or `_ingestion_timestamp` missing or not a
string (without it no one can tell which version of a row is newest).

Silver: type, validate, keep the newest version per key, enrich. Rules (docs/marketplace.md has the full list):
- A row whose key is missing, whose required column is empty, whose non-empty value does not parse as
  its type, whose status is unknown or whose amount is outside [0, MAX_AMOUNT] is quarantined with every
  rule it broke (`_quarantine_reason`).
- Among the valid rows of a key, the newest `_ingestion_timestamp` wins (ties: the later Kafka offset).
  The MERGE (pipeline.py) updates a silver row only with a strictly newer message, so a late message never
  overwrites a newer row and a replayed batch changes nothing.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from shopflow_assets.contracts.marketplace import (
    ENRICHMENT,
    INGESTION_TS,
    MAX_AMOUNT,
    MAX_RECORD_BYTES,
    ORDER_ITEMS,
    ORDER_REVIEWS,
    ORDER_STATUSES,
    ORDERS,
    TableContract,
)
from shopflow_assets.contracts.streaming import REASON_OVERSIZED
from shopflow_assets.resources.streaming.parse import (
    evaluated_once,
    first_reason,
    json_string,
    json_type,
    oversized,
    parse_json_object,
    present_with_wrong_type,
)
from shopflow_assets.resources.streaming.source import KAFKA_META_COLUMNS

INGESTION_DATE = "_ingestion_date"
REASON = "_quarantine_reason"
SILVER_UPDATED_AT = "_silver_updated_at"
# Bookkeeping carried from bronze into silver (the Kafka offset breaks ties between equal timestamps).
CARRIED_META = (INGESTION_TS, "_kafka_offset", "_bronze_ingested_at")


# Timestamp shapes accepted besides Spark's own ISO cast (with or without seconds, `T` or a space):
# spreadsheet exports write `M/D/YYYY H:MM`, with or without seconds. Month first, as those tools do.
TIMESTAMP_FORMATS = (
    "yyyy-MM-dd HH:mm",
    "yyyy-MM-dd'T'HH:mm",
    "M/d/yyyy H:mm:ss",
    "M/d/yyyy H:mm",
    "M/d/yyyy",
)
# A parsed time outside this window is a typo or an attack ("9999-01-01"); it would also break readers
# that map timestamps to Python datetimes.
EARLIEST_TIMESTAMP, LATEST_TIMESTAMP = "1970-01-01", "2100-01-01"


def parse_timestamp(text: Column) -> Column:
    return F.coalesce(
        text.try_cast("timestamp"), *[F.try_to_timestamp(text, F.lit(f)) for f in TIMESTAMP_FORMATS]
    )


def _blank_to_null(column: str) -> Column:
    trimmed = F.trim(F.col(column).cast("string"))
    return F.when(trimmed == "", None).otherwise(trimmed)


def typed_with_reasons(bronze: DataFrame, table: TableContract) -> DataFrame:
    """Cast bronze strings to the silver types and add `_quarantine_reason` (null when the row is valid)."""
    df = bronze
    for name in (*table.columns, INGESTION_TS):
        if name not in df.columns:
            df = df.withColumn(name, F.lit(None).cast("string"))
    raw = {c: _blank_to_null(c) for c in (*table.columns, INGESTION_TS)}
    reasons: list[Column] = []
    typed_cols: dict[str, Column] = {}
    for name in table.columns:
        sql_type = table.types.get(name)
        if sql_type == "timestamp":
            typed = parse_timestamp(raw[name])
            outside = (typed < F.lit(EARLIEST_TIMESTAMP).cast("timestamp")) | (
                typed >= F.lit(LATEST_TIMESTAMP).cast("timestamp")
            )
            reasons.append(F.when(outside, F.lit(f"{name}_out_of_range")))
        else:
            typed = raw[name].try_cast(sql_type) if sql_type else raw[name]
        typed_cols[name] = typed
        if sql_type:
            reasons.append(F.when(raw[name].isNotNull() & typed.isNull(), F.lit(f"unparseable_{name}")))
    ingestion_ts = raw[INGESTION_TS].try_cast("timestamp")
    reasons.append(F.when(ingestion_ts.isNull(), F.lit("missing_ingestion_timestamp")))
    for name in table.keys:
        reasons.append(F.when(raw[name].isNull(), F.lit(f"missing_key_{name}")))
    for name in table.required:
        reasons.append(F.when(raw[name].isNull(), F.lit(f"missing_{name}")))
    for name in table.non_negative:
        reasons.append(F.when(typed_cols[name] < 0, F.lit(f"negative_{name}")))
        reasons.append(F.when(typed_cols[name] > MAX_AMOUNT, F.lit(f"{name}_above_{MAX_AMOUNT}")))
    if table is ORDERS:
        status = F.lower(raw["order_status"])
        typed_cols["order_status"] = status
        reasons.append(
            F.when(status.isNotNull() & ~status.isin(*ORDER_STATUSES), F.lit("invalid_status")),
        )
    if table is ORDER_ITEMS:
        reasons.append(F.when(typed_cols["order_item_id"] < 1, F.lit("invalid_order_item_id")))
    if table is ORDER_REVIEWS:
        score = typed_cols["review_score"]
        reasons.append(F.when((score < 1) | (score > 5), F.lit("review_score_out_of_range")))

    reason = F.concat_ws("; ", F.filter(F.array(*reasons), lambda r: r.isNotNull()))
    meta = [F.col(c) for c in ("_kafka_offset", "_bronze_ingested_at") if c in df.columns]
    return df.select(
        *[typed_cols[c].alias(c) for c in table.columns],
        ingestion_ts.alias(INGESTION_TS),
        *meta,
        F.when(reason == "", None).otherwise(reason).alias(REASON),
    )


def split_valid(typed: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(valid rows without the reason column, quarantined rows with it)."""
    valid = typed.filter(F.col(REASON).isNull()).drop(REASON)
    quarantined = typed.filter(F.col(REASON).isNotNull())
    return valid, quarantined


def newest_per_key(df: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """One row per key: the newest `_ingestion_timestamp`, then the latest offset/bronze arrival."""
    order = [F.col(INGESTION_TS).desc()]
    order += [F.col(c).desc_nulls_last() for c in ("_kafka_offset", "_bronze_ingested_at") if c in df.columns]
    window = Window.partitionBy(*keys).orderBy(*order)
    return df.withColumn("_rank", F.row_number().over(window)).filter("_rank = 1").drop("_rank")


def enrich_products(products: DataFrame, translation: DataFrame | None) -> DataFrame:
    """English category name from the translation table (null when the category has none)."""
    if translation is None:
        return products.withColumn("product_category_name_english", F.lit(None).cast("string"))
    names = newest_translation(translation)
    return products.join(names, "product_category_name", "left")


def newest_translation(translation: DataFrame) -> DataFrame:
    clean = translation.select(
        _blank_to_null("product_category_name").alias("product_category_name"),
        _blank_to_null("product_category_name_english").alias("product_category_name_english"),
    ).filter(F.col("product_category_name").isNotNull())
    return clean.groupBy("product_category_name").agg(
        F.max("product_category_name_english").alias("product_category_name_english")
    )


def enrich_orders(orders: DataFrame, customers: DataFrame | None) -> DataFrame:
    """Customer info on each order (null until the customer arrives; customer batches fill it in later)."""
    cols = ENRICHMENT["orders"]
    if customers is None:
        return orders.select("*", *[F.lit(None).cast("string").alias(c) for c in cols])
    return orders.join(customers.select("customer_id", *cols), "customer_id", "left")


def enrich_order_items(items: DataFrame, products: DataFrame | None, sellers: DataFrame | None) -> DataFrame:
    """Product category (Portuguese and English) and seller location on each item."""
    product_cols = ("product_category_name", "product_category_name_english")
    seller_cols = ("seller_zip_code_prefix", "seller_city", "seller_state")
    out = items
    if products is None:
        out = out.select("*", *[F.lit(None).cast("string").alias(c) for c in product_cols])
    else:
        out = out.join(products.select("product_id", *product_cols), "product_id", "left")
    if sellers is None:
        out = out.select("*", *[F.lit(None).cast("string").alias(c) for c in seller_cols])
    else:
        out = out.join(sellers.select("seller_id", *seller_cols), "seller_id", "left")
    return out


# --- bronze -----------------------------------------------------------------------------------------
def parse_messages(records: DataFrame, table: TableContract) -> DataFrame:
    """Kafka records (value, topic, partition, offset, kafka_timestamp) -> source columns + `reason`.

    `reason` is null for a usable message. Numbers sent as JSON numbers are kept as their text.
    """
    variant = parse_json_object(F.col("value"))
    checks = message_checks(variant, table)
    return evaluated_once(
        records.select(
            *[json_string(variant, f"$.{column}").alias(column) for column in (*table.columns, INGESTION_TS)],
            "value",
            *KAFKA_META_COLUMNS,
            first_reason(checks).alias("reason"),
        )
    )


def message_checks(variant: Column, table: TableContract) -> list[tuple[Column, str]]:
    """(rule broken, reason) of a Kafka message, in the order parse_messages reports the first."""
    return [
        (oversized(F.col("value"), MAX_RECORD_BYTES), REASON_OVERSIZED),
        (variant.isNull(), "not_json"),
        (~json_type(variant, "$").startswith("OBJECT"), "not_a_json_object"),
        *[(json_string(variant, f"$.{key}").isNull(), f"missing_key_{key}") for key in table.keys],
        (present_with_wrong_type(variant, f"$.{INGESTION_TS}", "STRING"), f"wrong_type_{INGESTION_TS}"),
        (json_string(variant, f"$.{INGESTION_TS}").isNull(), f"missing_{INGESTION_TS}"),
    ]


def message_reasons(table: TableContract) -> list[str]:
    """Every reason parse_messages can give a message of `table` (one observed count each)."""
    return [reason for _, reason in message_checks(parse_json_object(F.col("value")), table)]


def bronze_rows(parsed: DataFrame, table: TableContract) -> DataFrame:
    """The usable messages shaped as bronze rows, partitioned by the date of `_ingestion_timestamp`."""
    ingested_at = F.current_timestamp()
    event_date = F.to_date(F.col(INGESTION_TS).try_cast("timestamp"))
    return parsed.where(F.col("reason").isNull()).select(
        *table.columns,
        INGESTION_TS,
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("kafka_timestamp").alias("_kafka_timestamp"),
        ingested_at.alias("_bronze_ingested_at"),
        F.coalesce(event_date, F.to_date(ingested_at)).alias(INGESTION_DATE),
    )


# --- batch CSVs: records with the wrong number of fields, an unbalanced quote, a field too large -------

TOO_FEW_FIELDS = "too_few_fields"
TOO_MANY_FIELDS = "too_many_fields"
# A quote that never closes would make the csv module read every later line into one field: the record's
# first line is quarantined alone and the lines after it are read again as records.
UNBALANCED_QUOTE = "unbalanced_quote"
# A field over the csv module's field size limit (128 KiB) makes it raise, which stopped the whole load.
FIELD_TOO_LARGE = "field_too_large"


class CsvRecord(NamedTuple):
    """One CSV record after the header: the physical line it starts on, its fields, and the rule it breaks
    (None: loadable; "blank": every field empty, a spreadsheet's trailing row, not a record). `raw` is the
    text as read when it could not be split into fields (unbalanced quote, field too large)."""

    line: int
    fields: list[str]
    rule: str | None
    raw: str | None = None


def _split(text: str) -> tuple[list[str] | None, str | None]:
    """The fields of one record's text, or (None, rule) when the csv module cannot split it."""
    if '"' not in text and len(text) <= _FIELD_LIMIT:
        return text.rstrip("\r\n").split(","), None  # what the csv module returns, ~10x faster
    try:
        rows = list(csv.reader((text,)))
    except csv.Error as exc:
        return None, FIELD_TOO_LARGE if "field limit" in str(exc) else UNBALANCED_QUOTE
    if len(rows) != 1:  # a line break outside quotes: a stray quote joined two records
        return None, UNBALANCED_QUOTE
    return rows[0], None


_FIELD_LIMIT = csv.field_size_limit()


def scan_csv_records(lines: Iterable[str], field_count: int) -> Iterator[CsvRecord]:
    """Each record after the header with its rule, in one linear pass. `lines` come from a file opened with
    newline="" (CRLF kept; a BOM is the opener's).

    A record is its physical lines joined while a quote is open (an odd count of `"`; escaped quotes are
    doubled, so they keep the parity). A record spanning several lines that then does not split into the
    contract's field count, or that reaches the end of the file with its quote open, was swallowed by an
    unbalanced quote: its first line is quarantined and the lines after it are read again, so each later
    record still comes out loaded or quarantined with its own line number.
    """
    source = enumerate(lines, start=1)
    replay: deque[tuple[int, str]] = deque()  # lines an open quote swallowed, to be read again
    header = True
    while (first := replay.popleft() if replay else next(source, None)) is not None:
        start, text = first
        quotes = text.count('"')
        block = [first]
        while quotes % 2 and (more := replay.popleft() if replay else next(source, None)) is not None:
            block.append(more)
            quotes += more[1].count('"')
        if quotes % 2:
            fields, rule = None, UNBALANCED_QUOTE
        else:
            fields, rule = _split(text if len(block) == 1 else "".join(part for _, part in block))
        # several lines that do not make one record of the right width: the first line's quote was open
        swallowed = len(block) > 1 and (fields is None or len(fields) != field_count)
        if swallowed:
            replay.extendleft(reversed(block[1:]))
            rule, fields = UNBALANCED_QUOTE, None
        if header:  # the header, checked against the contract by the caller
            header = False
        elif fields is None:
            raw = text if swallowed else "".join(part for _, part in block)
            yield CsvRecord(start, [], rule, raw.rstrip("\r\n"))
        elif not "".join(fields).strip():
            yield CsvRecord(start, fields, "blank")
        elif len(fields) == field_count:
            yield CsvRecord(start, fields, None)
        else:
            yield CsvRecord(start, fields, TOO_FEW_FIELDS if len(fields) < field_count else TOO_MANY_FIELDS)
