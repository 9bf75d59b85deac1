"""The quarantine-ratio check of every silver table: when more than a set share of a run's input is
quarantined, fail at silver (not three layers later at gold), naming the main rule, its column and three
sample raw values from bronze.

Pure helpers (`rule_column`, `ratio_verdict`) plus one Spark step that finds the samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import dagster as dg

from shopflow_assets.contracts.marketplace import TableContract

if TYPE_CHECKING:  # the assets import this module when the code location loads, without pyspark
    from pyspark.sql import DataFrame

CHECK_NAME = "quarantine_ratio"
DEFAULT_MAX_QUARANTINE_SHARE = 0.2


def rule_column(rule: str, columns: Iterable[str]) -> str | None:
    """The column a rule names (`unparseable_order_purchase_timestamp` -> order_purchase_timestamp)."""
    named = [c for c in columns if c in rule]
    return max(named, key=len) if named else None


def ratio_verdict(input_rows: int, quarantined: int, max_share: float) -> tuple[bool, float]:
    share = quarantined / input_rows if input_rows else 0.0
    return share <= max_share, share


def quarantine_ratio_result(
    asset_key: dg.AssetKey,
    table: TableContract,
    counts: dict[str, int],
    quarantine: DataFrame | None,
    bronze: DataFrame | None,
    max_share: float,
) -> dg.AssetCheckResult:
    passed, share = ratio_verdict(counts.get("input", 0), counts.get("quarantined", 0), max_share)
    metadata: dict = {"input": counts.get("input", 0), "quarantined": counts.get("quarantined", 0)}
    metadata.update(share=round(share, 4), max_share=max_share)
    description = None
    if not passed and quarantine is not None:
        from pyspark.sql import functions as F

        reason = "_quarantine_reason"
        top = (
            quarantine.select(F.explode(F.split(F.col(reason), "; ")).alias("rule"))
            .groupBy("rule")
            .count()
            .orderBy(F.desc("count"))
            .first()
        )
        rule = top["rule"] if top else "?"
        column = rule_column(rule, table.columns)
        samples: list[str] = []
        if column and bronze is not None and column in bronze.columns:
            # the raw text as sent: the quarantine keeps typed values, null where parsing failed
            typed = quarantine.where(F.col(reason).contains(rule)).select(*table.keys).distinct()
            bad = bronze.join(typed, list(table.keys), "left_semi") if table.keys else bronze
            samples = [
                row[0] for row in bad.select(F.col(column).cast("string")).distinct().limit(3).collect()
            ]
        metadata.update(rule=rule, column=column or "", samples=samples)
        description = (
            f"{share:.0%} of silver_{table.name} input quarantined (> {max_share:.0%}); main rule {rule!r}"
            + (f" on column {column!r}, e.g. {samples}" if column else "")
        )
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name=CHECK_NAME, passed=passed, metadata=metadata, description=description
    )
