"""The user action events as one Definitions object: the asset, its job and Kafka sensor."""

from __future__ import annotations

import dagster as dg

from shopflow_assets.domains.events.assets import PREFIX, user_action_events, user_actions_topic
from shopflow_assets.domains.events.automation import (
    user_actions_freshness_checks,
    user_actions_freshness_sensor,
    user_actions_job,
    user_actions_sensor,
)
from shopflow_assets.domains.skeleton import domain_specs
from shopflow_assets.resources.streaming.resource import STREAMING_RESOURCE, STREAMING_RESOURCE_KEY

defs = domain_specs(
    dg.Definitions(
        assets=[user_actions_topic, user_action_events],
        asset_checks=user_actions_freshness_checks,
        jobs=[user_actions_job],
        sensors=[user_actions_sensor, user_actions_freshness_sensor],
        resources={STREAMING_RESOURCE_KEY: STREAMING_RESOURCE},
    ),
    group=PREFIX,
)
