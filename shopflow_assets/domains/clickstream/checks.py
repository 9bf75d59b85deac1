"""Checks of `fact_page_views`, evaluated from the bounded run's accounting (no second read of the table)."""

from __future__ import annotations

import dagster as dg

ACCOUNTED_CHECK = "every_click_accounted_for"
TABLE_AGREES_CHECK = "table_gain_equals_dedup_accepted"


def page_view_check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(ACCOUNTED_CHECK, asset=asset_key, blocking=True),
        dg.AssetCheckSpec(TABLE_AGREES_CHECK, asset=asset_key),
    ]


def page_view_check_results(summary) -> list[dg.AssetCheckResult]:
    """Every click read is counted, a duplicate, a dead letter or dropped late; the table grew by what dedup let in."""
    return [
        dg.AssetCheckResult(
            check_name=ACCOUNTED_CHECK,
            passed=summary.accounted,
            metadata={
                "records_in": summary.records_in,
                "counted + duplicates + dead_lettered + dropped_late": summary.counted
                + summary.duplicates
                + summary.dead_lettered
                + summary.dropped_late,
                "duplicates": summary.duplicates,
            },
        ),
        dg.AssetCheckResult(
            check_name=TABLE_AGREES_CHECK,
            passed=summary.counted == summary.accepted_by_dedup,
            # Lower only when a batch cut off by a crash had already been merged and is replayed.
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"table_gain": summary.counted, "accepted_by_dedup": summary.accepted_by_dedup},
        ),
    ]
