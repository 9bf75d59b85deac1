"""Check of `user_action_events`, evaluated from the bounded run's accounting."""

from __future__ import annotations

from shopflow_assets.resources.streaming.asset import accounting_check

# Every record read is written or dead-lettered (no window here, so nothing is dropped late).
EVERY_ACTION_ACCOUNTED = accounting_check("every_action_accounted_for", terms=("written", "dead_lettered"))

USER_ACTION_CHECKS = (EVERY_ACTION_ACCOUNTED,)
