"""Run the shop daily batch for days in this process (the demo, `shopflow run shop`, the bench, tests)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg

from shopflow_assets.settings import Settings, get_settings


def dagster_home(settings: Settings | None = None) -> Path:
    """DAGSTER_HOME, else $SHOPFLOW_HOME/dagster: runs recorded there show in `dagster dev` started with it."""
    settings = settings or get_settings()
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    return home


def shop_definitions() -> dg.Definitions:
    """The shop domain with the shared resources, built per call (definitions.py's `defs` is fixed at import).

    Resources are chosen from the settings in force when a run starts, so a caller that switches SHOPFLOW_ENV
    (the e2e tests, `SHOPFLOW_ENV=docker shopflow run shop`) gets the store it asked for.
    """
    from shopflow_assets.domains.shop.definitions import defs
    from shopflow_assets.resources import build_resources

    return dg.Definitions.merge(defs, dg.Definitions(resources=build_resources()))


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def run_days(
    days: list[dt.date],
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
    log_level: str = "INFO",
) -> list[dg.ExecuteInProcessResult]:
    """Materialize job `ecommerce_daily_batch` for each day, in order (a backfill, one run per day)."""
    from shopflow_assets.domains.shop.automation import JOB_NAME

    job = shop_definitions().resolve_job_def(JOB_NAME)
    results = []
    for day in days:
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            raise_on_error=raise_on_error,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        results.append(result)
    return results
