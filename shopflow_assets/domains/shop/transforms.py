"""Pure transformations of the shop daily batch: DataFrame in, DataFrame out, no Dagster, no storage.

Cleaning runs on Spark (the raw files can hold a million orders); the star schema is built from the
cleaned frames with pandas (they are small and already validated). The rules and their precedence are
the ones in `shopflow_assets.contracts.shop` (see docs/shop-batch.md).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from shopflow_assets.contracts import shop as contract

# Defined with the contract, so the assets and the S3 sensor use them without importing Spark or pandas.
from shopflow_assets.contracts.shop import DEFAULT_MAX_QUARANTINE_SHARE as DEFAULT_MAX_QUARANTINE_SHARE
from shopflow_assets.contracts.shop import QUARANTINE_RATIO_CHECK as QUARANTINE_RATIO_CHECK
from shopflow_assets.contracts.shop import parse_raw_object_key as parse_raw_object_key
from shopflow_assets.contracts.shop import raw_object_key as raw_object_key

ROW_NUMBER = "_row_number"
RULE = "_rule"
DETAIL = "_detail"
RAW_RECORD = "_raw_record"
SOURCE = "_source"
_CORRUPT = "_corrupt_record"
QUARANTINE_COLUMNS = ("dataset", "source", "row_number", "record_id", "rule", "detail", "raw_record")


# --- reading --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawCsv:
    """A raw file as Spark reads it (`frame`) and its data rows, counted by the numbering scan: apart from
    the cleaning plan, so a row the rules lose cannot go unnoticed, and without reading the file again."""

    frame: DataFrame
    rows: int


def read_raw_csv(spark: SparkSession, path: str, dataset: str) -> RawCsv:
    """A raw CSV with every column as a string and `_row_number` (1-based data row, header = row 0).

    Strings first, so that a value of the wrong type is quarantined as `bad_type` instead of silently
    becoming null; a row with the wrong number of fields is kept in `_corrupt_record`.
    """
    columns = contract.RAW_COLUMNS[dataset]
    schema = T.StructType([T.StructField(name, T.StringType()) for name in columns])
    schema = schema.add(T.StructField(_CORRUPT, T.StringType()))
    frame = (
        spark.read.option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT)
        .option("enforceSchema", True)
        .schema(schema)
        .csv(path)
    )
    return with_file_row_numbers(frame)


def with_file_row_numbers(frame: DataFrame) -> RawCsv:
    """Number rows 1..n in file order without moving them to one partition (and count them).

    A cheap first scan counts the rows of each split (keyed by its byte offset); each row's number is then
    the rows of the earlier splits plus its position inside its own split, where
    `monotonically_increasing_id` is consecutive. The splits stay on every core for the rules that follow.
    """
    tagged = frame.withColumn("_block", F.input_file_block_start()).withColumn(
        "_seq", F.monotonically_increasing_id()
    )
    splits = (
        tagged.groupBy("_block")
        .agg(F.count(F.lit(1)).alias("rows"), F.min("_seq").alias("first_seq"))
        .collect()
    )
    shifts, earlier_rows = [], 0
    for split in sorted(splits, key=lambda row: row["_block"]):
        shifts.append((split["_block"], earlier_rows + 1 - split["first_seq"]))
        earlier_rows += split["rows"]
    shift_table = frame.sparkSession.createDataFrame(shifts, "_block long, _shift long")
    numbered = (
        tagged.join(F.broadcast(shift_table), "_block")
        .withColumn(ROW_NUMBER, (F.col("_seq") + F.col("_shift")).cast("long"))
        .drop("_block", "_seq", "_shift")
    )
    return RawCsv(numbered, earlier_rows)


# --- rules ----------------------------------------------------------------------------------------------


def _blank(name: str) -> Column:
    return F.col(name).isNull() | (F.trim(F.col(name)) == "")


def _first_blank(columns: tuple[str, ...]) -> tuple[Column, Column]:
    broken = F.lit(False)
    detail = None
    for name in columns:
        broken = broken | _blank(name)
        detail = (detail if detail is not None else F).when(_blank(name), F.lit(f"{name} is empty"))
    return broken, detail


def _value_text(name: str) -> Column:
    return F.concat(F.lit(f"{name}='"), F.coalesce(F.col(name), F.lit("")), F.lit("'"))


def _apply_rules(frame: DataFrame, checks: list[tuple[str, Column, Column]]) -> DataFrame:
    """Set `_rule`/`_detail` to the first broken (rule, condition, detail), in the order given."""
    rule = detail = None
    for name, broken, text in checks:
        rule = (rule if rule is not None else F).when(broken, F.lit(name))
        detail = (detail if detail is not None else F).when(broken, text)
    return frame.withColumn(RULE, rule).withColumn(DETAIL, detail)


def _bad_number(typed: str) -> Column:
    return F.col(typed).isNull() | F.isnan(F.col(typed))


def _beyond_money(typed: str) -> Column:
    """Infinity, or a magnitude the warehouse's DECIMAL(12,2) cannot hold."""
    return F.abs(F.col(typed)) >= contract.MONEY_LIMIT


def _beyond_time(typed: str) -> Column:
    earliest, latest = (F.lit(t).cast("timestamp") for t in (contract.EARLIEST_TIME, contract.LATEST_TIME))
    return (F.col(typed) < earliest) | (F.col(typed) >= latest)


def _out_of_range_text(name: str, limit: str) -> Column:
    return F.concat(_value_text(name), F.lit(f" is outside {limit}"))


_TIME_WINDOW = f"[{contract.EARLIEST_TIME}, {contract.LATEST_TIME})"
_MONEY_WINDOW = f"(-{contract.MONEY_LIMIT:,}, {contract.MONEY_LIMIT:,}) (the warehouse's DECIMAL(12,2))"
_INT_LIMIT = 2**31 - 1  # the warehouse's INTEGER


def _common_checks(dataset: str) -> list[tuple[str, Column, Column]]:
    columns = contract.RAW_COLUMNS[dataset]
    missing, missing_detail = _first_blank(columns)
    shape_broken = F.col(_CORRUPT).isNotNull()
    return [
        (contract.MISSING_VALUE, missing, missing_detail),
        (contract.BAD_TYPE, shape_broken, F.lit(f"wrong number of fields (expected {len(columns)})")),
    ]


def _typed_users(raw: DataFrame) -> DataFrame:
    return raw.withColumn("_signup_date", F.col("signup_date").try_cast("timestamp"))


def _money(name: str) -> Column:
    """A money value rounded to cents BEFORE its range rule: 9999999999.995 passes the limit unrounded but
    becomes 10,000,000,000.00 in the warehouse's DECIMAL(12,2) and would fail the whole day's load."""
    return F.round(F.col(name).try_cast("double"), 2)


def _typed_products(raw: DataFrame) -> DataFrame:
    return raw.withColumn("_price", _money("price"))


def _typed_orders(raw: DataFrame) -> DataFrame:
    return (
        raw.withColumn("_quantity", F.col("quantity").try_cast("long"))
        .withColumn("_total_amount", _money("total_amount"))
        .withColumn("_order_ts", F.col("order_ts").try_cast("timestamp"))
    )


def _mark_duplicates(annotated: DataFrame, key: str) -> DataFrame:
    """The first VALID row of each key wins; later valid rows get `duplicate_key` (one window, one shuffle).

    Valid rows sort before invalid ones inside each key, so rank 1 is the first valid row and an
    invalid earlier row never blocks a later valid one.
    """
    by_key = Window.partitionBy(key).orderBy(F.col(RULE).isNotNull(), ROW_NUMBER)
    ranked = annotated.withColumn("_rank", F.row_number().over(by_key)).withColumn(
        "_first_row", F.first(ROW_NUMBER).over(by_key)
    )
    duplicate = F.col(RULE).isNull() & (F.col("_rank") > 1)
    detail = F.concat(
        F.lit(f"an earlier row has {key} "), F.col(key), F.lit(" (row "), F.col("_first_row"), F.lit(")")
    )
    return (
        ranked.withColumn(DETAIL, F.when(duplicate, detail).otherwise(F.col(DETAIL)))
        .withColumn(RULE, F.when(duplicate, F.lit(contract.DUPLICATE_KEY)).otherwise(F.col(RULE)))
        .drop("_rank", "_first_row")
    )


def _finish(annotated: DataFrame, dataset: str, source: str, typed_columns: dict[str, str]) -> DataFrame:
    """Every input row once: typed columns, `_row_number`, `_rule`/`_detail` (null when loaded), and for a
    quarantined row its source and raw values (JSON). One DataFrame, so each raw file is read once."""
    rows = _mark_duplicates(annotated, contract.PRIMARY_KEYS[dataset])
    columns = contract.RAW_COLUMNS[dataset]
    raw_json = F.to_json(F.struct(*[F.col(name) for name in columns]), {"ignoreNullFields": "false"})
    # a quarantined row keeps its raw text (raw_record); its typed values are dropped, since an
    # out-of-range one (year 9999) could not even be collected into pandas
    typed = {
        name: F.when(F.col(RULE).isNull(), F.col(typed_col)) for name, typed_col in typed_columns.items()
    }
    return rows.select(
        *[typed.get(name, F.col(name)).alias(name) for name in columns],
        F.col(ROW_NUMBER),
        F.col(RULE),
        F.col(DETAIL),
        # raw values only where they are kept: the quarantined rows
        F.when(F.col(RULE).isNotNull(), raw_json).alias(RAW_RECORD),
        F.lit(source).alias(SOURCE),
    )


def split_rows(rows: pd.DataFrame, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of one dataset (from a clean_* function, collected) -> (clean rows, quarantine rows)."""
    loaded = rows[RULE].isna()
    # File order (the dedup shuffle does not keep it): deterministic output for identical input.
    clean = rows.loc[loaded].sort_values(ROW_NUMBER, kind="stable")[list(contract.RAW_COLUMNS[dataset])]
    clean = clean.reset_index(drop=True)
    bad = rows.loc[~loaded]
    quarantine = pd.DataFrame(
        {
            "dataset": dataset,
            "source": bad[SOURCE].astype(str),
            "row_number": bad[ROW_NUMBER].astype("int64"),
            "record_id": bad[contract.PRIMARY_KEYS[dataset]],
            "rule": bad[RULE],
            "detail": bad[DETAIL],
            "raw_record": bad[RAW_RECORD],
        },
        columns=list(QUARANTINE_COLUMNS),
    )
    return clean, quarantine.sort_values("row_number", kind="stable", ignore_index=True)


def clean_users(raw: DataFrame, source: str) -> DataFrame:
    """Users.csv -> one row per valid user_id (signup_date as timestamp)."""
    typed = _typed_users(raw)
    checks = _common_checks("users") + [
        (
            contract.BAD_TYPE,
            F.col("_signup_date").isNull(),
            F.concat(_value_text("signup_date"), F.lit(" is not a timestamp")),
        ),
        (
            contract.OUT_OF_RANGE,
            _beyond_time("_signup_date"),
            _out_of_range_text("signup_date", _TIME_WINDOW),
        ),
    ]
    return _finish(_apply_rules(typed, checks), "users", source, {"signup_date": "_signup_date"})


def clean_products(raw: DataFrame, source: str) -> DataFrame:
    """Products.csv -> one row per valid product_id with a positive price."""
    typed = _typed_products(raw)
    checks = _common_checks("products") + [
        (contract.BAD_TYPE, _bad_number("_price"), F.concat(_value_text("price"), F.lit(" is not a number"))),
        (contract.OUT_OF_RANGE, _beyond_money("_price"), _out_of_range_text("price", _MONEY_WINDOW)),
        (
            contract.NON_POSITIVE_PRICE,
            F.col("_price") <= 0,
            F.concat(_value_text("price"), F.lit(" is not positive")),
        ),
    ]
    return _finish(_apply_rules(typed, checks), "products", source, {"price": "_price"})


def clean_orders(raw: DataFrame, users: DataFrame, products: DataFrame, source: str) -> DataFrame:
    """Orders.csv -> valid orders whose user and product are among the day's clean users and products.

    `users` / `products`: the day's clean rows (only their id column is used).
    """
    # The id sets are small next to the orders: broadcast them instead of shuffling the orders twice.
    known_users = F.broadcast(
        users.select(F.col("user_id").alias("_known_user")).distinct().withColumn("_user_ok", F.lit(True))
    )
    known_products = F.broadcast(
        products.select(F.col("product_id").alias("_known_product"))
        .distinct()
        .withColumn("_product_ok", F.lit(True))
    )
    typed = (
        _typed_orders(raw)
        .join(known_users, F.col("user_id") == F.col("_known_user"), "left")
        .join(known_products, F.col("product_id") == F.col("_known_product"), "left")
    )
    checks = _common_checks("orders") + [
        (
            contract.BAD_TYPE,
            F.col("_quantity").isNull(),
            F.concat(_value_text("quantity"), F.lit(" is not an integer")),
        ),
        (
            contract.BAD_TYPE,
            _bad_number("_total_amount"),
            F.concat(_value_text("total_amount"), F.lit(" is not a number")),
        ),
        (
            contract.BAD_TYPE,
            F.col("_order_ts").isNull(),
            F.concat(_value_text("order_ts"), F.lit(" is not a timestamp")),
        ),
        (
            contract.OUT_OF_RANGE,
            _beyond_money("_total_amount"),
            _out_of_range_text("total_amount", _MONEY_WINDOW),
        ),
        (
            contract.OUT_OF_RANGE,
            F.col("_quantity") > _INT_LIMIT,
            _out_of_range_text("quantity", f"[1, {_INT_LIMIT:,}] (the warehouse's INTEGER)"),
        ),
        (contract.OUT_OF_RANGE, _beyond_time("_order_ts"), _out_of_range_text("order_ts", _TIME_WINDOW)),
        (
            contract.BAD_QUANTITY,
            F.col("_quantity") < 1,
            F.concat(_value_text("quantity"), F.lit(" is below 1")),
        ),
        (
            contract.NEGATIVE_TOTAL_AMOUNT,
            F.col("_total_amount") < 0,
            F.concat(_value_text("total_amount"), F.lit(" is negative")),
        ),
        (
            contract.UNKNOWN_USER,
            F.col("_user_ok").isNull(),
            F.concat(F.lit("user_id "), F.col("user_id"), F.lit(" is not among the day's clean users")),
        ),
        (
            contract.UNKNOWN_PRODUCT,
            F.col("_product_ok").isNull(),
            F.concat(
                F.lit("product_id "), F.col("product_id"), F.lit(" is not among the day's clean products")
            ),
        ),
    ]
    typed_columns = {"quantity": "_quantity", "total_amount": "_total_amount", "order_ts": "_order_ts"}
    return _finish(_apply_rules(typed, checks), "orders", source, typed_columns)


# --- star schema (pandas) -------------------------------------------------------------------------------


def build_dim_users(users: pd.DataFrame, business_date: dt.date) -> pd.DataFrame:
    """dim_users rows of one day: each clean user with the day it was last seen (its version)."""
    dim = users[["user_id", "signup_date", "country"]].copy()
    dim["last_seen_date"] = pd.Timestamp(business_date)
    return dim.reset_index(drop=True)


def build_dim_products(products: pd.DataFrame, business_date: dt.date) -> pd.DataFrame:
    dim = products[["product_id", "category", "price"]].copy()
    dim["last_seen_date"] = pd.Timestamp(business_date)
    return dim.reset_index(drop=True)


def date_key(day: dt.date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def build_dim_date(days: list[dt.date]) -> pd.DataFrame:
    """One row per business day, with the calendar attributes reports group by."""
    stamps = pd.to_datetime(pd.Series(sorted(set(days)), dtype="object"))
    return pd.DataFrame(
        {
            "date_key": [date_key(day) for day in sorted(set(days))],
            "date": stamps,
            "year": stamps.dt.year,
            "quarter": stamps.dt.quarter,
            "month": stamps.dt.month,
            "day": stamps.dt.day,
            "day_of_week": stamps.dt.dayofweek + 1,  # ISO: Monday = 1
            "day_name": stamps.dt.day_name(),
            "month_name": stamps.dt.month_name(),
            "is_weekend": stamps.dt.dayofweek >= 5,
        }
    )


def build_fact_orders(
    orders: pd.DataFrame, users: pd.DataFrame, products: pd.DataFrame, business_date: dt.date
) -> pd.DataFrame:
    """Orders joined to their user and product: one row per order, with the product's price that day.

    Inner joins on purpose: cleaning already guarantees every order has both (an order that lost its
    user or product here would be a bug upstream, and the row-count metadata would show it).
    """
    fact = orders.merge(users[["user_id"]], on="user_id", how="inner", validate="many_to_one").merge(
        products[["product_id", "price"]], on="product_id", how="inner", validate="many_to_one"
    )
    fact = fact.rename(columns={"price": "unit_price"})
    fact["order_date"] = pd.Timestamp(business_date)
    fact["date_key"] = date_key(business_date)
    columns = list(contract.FACT_ORDERS.columns)
    return fact[columns].sort_values("order_id", kind="stable").reset_index(drop=True)


# --- accounting ---------------------------------------------------------------------------------------


def rule_counts(quarantine: pd.DataFrame) -> dict[str, dict[str, int]]:
    """{dataset: {rule: rows}} of a quarantine frame, rules in precedence order."""
    out: dict[str, dict[str, int]] = {}
    for dataset in contract.SHOP_DATASETS:
        rules = quarantine.loc[quarantine["dataset"] == dataset, "rule"].value_counts()
        out[dataset] = {rule: int(rules[rule]) for rule in contract.QUARANTINE_RULES if rule in rules}
    return out


class RecordCountMismatchError(AssertionError):
    """Input rows were neither loaded nor quarantined: a bug in the cleaning step, never ignored."""


def count_records(
    clean: dict[str, pd.DataFrame], quarantine: pd.DataFrame, input_rows: dict[str, int]
) -> dict[str, dict[str, int]]:
    """records_in / records_loaded / records_quarantined per dataset; raises unless in = loaded + quarantined."""
    out = {}
    for dataset in contract.SHOP_DATASETS:
        loaded = len(clean[dataset])
        quarantined = int((quarantine["dataset"] == dataset).sum())
        if input_rows[dataset] != loaded + quarantined:
            raise RecordCountMismatchError(
                f"{dataset}: {input_rows[dataset]} input rows but {loaded} loaded + {quarantined} quarantined"
            )
        out[dataset] = {
            "records_in": input_rows[dataset],
            "records_loaded": loaded,
            "records_quarantined": quarantined,
        }
    return out


# --- quarantine ratio: a mostly quarantined day fails at the cleaned tables, saying why -----------------


@dataclass(frozen=True)
class QuarantineRatio:
    dataset: str
    input_rows: int
    quarantined: int
    max_share: float
    rule: str | None = None
    column: str | None = None
    samples: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.quarantined / self.input_rows if self.input_rows else 0.0

    @property
    def passed(self) -> bool:
        return self.share <= self.max_share

    def description(self) -> str | None:
        if self.passed:
            return None
        where = f" on column {self.column!r}" if self.column else ""
        return (
            f"{self.share:.0%} of the day's {self.dataset} quarantined (> {self.max_share:.0%}); "
            f"main rule {self.rule!r}{where}, e.g. {list(self.samples)}"
        )


def _detail_column(detail: str, columns: tuple[str, ...]) -> str | None:
    """The raw column a quarantine detail speaks of (`price='x' is not a number` -> price), if any."""
    found = [
        (m.start(), name) for name in columns if (m := re.search(rf"\b{re.escape(name)}\b", detail or ""))
    ]
    return min(found)[1] if found else None


def quarantine_ratio(
    dataset: str, input_rows: int, quarantine: pd.DataFrame, max_share: float
) -> QuarantineRatio:
    """Share of one dataset's input rows quarantined; above `max_share`, the main rule, its column and
    three distinct raw sample values of that column (the whole raw record when the rule names none)."""
    bad = quarantine.loc[quarantine["dataset"] == dataset]
    verdict = QuarantineRatio(dataset, input_rows, len(bad), max_share)
    if verdict.passed or bad.empty:
        return verdict
    rule = bad["rule"].value_counts().index[0]
    of_rule = bad.loc[bad["rule"] == rule]
    columns = contract.RAW_COLUMNS[dataset]
    column = of_rule["detail"].map(lambda d: _detail_column(d, columns)).mode()
    column = column.iloc[0] if not column.empty else None
    samples: list[str] = []
    for raw in of_rule["raw_record"]:
        value = json.loads(raw).get(column) if column else raw
        value = "" if value is None else str(value)
        if value not in samples:
            samples.append(value)
        if len(samples) == 3:
            break
    return QuarantineRatio(dataset, input_rows, len(bad), max_share, rule, column, tuple(samples))
