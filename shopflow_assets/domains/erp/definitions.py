"""The back-office ERP warehouse (totesys -> raw -> star schema -> PostgreSQL warehouse) as one Definitions.

Resources it needs from build_resources(): postgres (owner), postgres_reader (read-only), lake. Its failures
are alerted by the operations domain's sensors.
"""

from __future__ import annotations

import dagster as dg

from shopflow_assets.domains.erp.assets import GROUP, erp_ingest, erp_load, erp_transform
from shopflow_assets.domains.erp.automation import (
    erp_change_sensor,
    erp_freshness_checks,
    erp_freshness_sensor,
    erp_ingest_job,
    erp_load_job,
    erp_load_schedule,
    erp_pipeline_job,
    erp_transform_job,
    erp_transform_sensor,
)
from shopflow_assets.domains.skeleton import domain_specs

defs = domain_specs(
    dg.Definitions(
        assets=[erp_ingest, erp_transform, erp_load],
        asset_checks=erp_freshness_checks,
        jobs=[erp_pipeline_job, erp_ingest_job, erp_transform_job, erp_load_job],
        schedules=[erp_load_schedule],
        sensors=[erp_change_sensor, erp_transform_sensor, erp_freshness_sensor],
    ),
    group=GROUP,
)
