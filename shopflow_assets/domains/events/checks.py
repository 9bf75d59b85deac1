"""Check of `user_action_events`, evaluated from the bounded run's accounting."""

from __future__ import annotations

import dagster as dg

ACCOUNTED_CHECK = "every_action_accounted_for"


def user_action_check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(ACCOUNTED_CHECK, asset=asset_key, blocking=True)]


def user_action_check_results(summary) -> list[dg.AssetCheckResult]:
    """Every record read is written or dead-lettered."""
    return [
        dg.AssetCheckResult(
            check_name=ACCOUNTED_CHECK,
            passed=summary.accounted,
            metadata={
                "records_in": summary.records_in,
                "written + dead_lettered": summary.written + summary.dead_lettered,
            },
        )
    ]
