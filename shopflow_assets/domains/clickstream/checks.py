"""Checks of `fact_page_views`, evaluated from the bounded run's accounting (no second read of the table)."""

from __future__ import annotations

import dagster as dg

from shopflow_assets.resources.streaming.asset import StreamCheck, accounting_check

# Every click read is counted, a duplicate, a dead letter or dropped late.
EVERY_CLICK_ACCOUNTED = accounting_check(
    "every_click_accounted_for",
    terms=("counted", "duplicates", "dead_lettered", "dropped_late"),
    shown=("duplicates",),
)

# The table grew by what dedup let in. Lower only when a batch cut off by a crash had already been merged
# and is replayed, hence a warning.
TABLE_GAIN_EQUALS_DEDUP_ACCEPTED = StreamCheck(
    "table_gain_equals_dedup_accepted",
    passed=lambda summary: summary.counted == summary.accepted_by_dedup,
    metadata=lambda summary: {"table_gain": summary.counted, "accepted_by_dedup": summary.accepted_by_dedup},
    severity=dg.AssetCheckSeverity.WARN,
)

PAGE_VIEW_CHECKS = (EVERY_CLICK_ACCOUNTED, TABLE_GAIN_EQUALS_DEDUP_ACCEPTED)
