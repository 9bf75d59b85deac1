"""The user-action stream's bounded job and the Kafka sensor that starts it when user_actions holds new records."""

from __future__ import annotations

import dagster as dg

from shopflow_assets.automation import SOURCE_LAG_RUN_PRIORITY
from shopflow_assets.contracts import events as contract
from shopflow_assets.domains.events.assets import user_action_events
from shopflow_assets.domains.freshness import source_lag_freshness, without_freshness_checks
from shopflow_assets.domains.kafka_sensors import RUN_RETRIES, build_kafka_lag_sensor

user_actions_job = dg.define_asset_job(
    "user_actions_stream",
    selection=without_freshness_checks(
        dg.AssetSelection.assets(user_action_events), [user_action_events.key]
    ),
    description="Bounded (availableNow) run of the user-action query over what user_actions holds now.",
    tags={**RUN_RETRIES, **SOURCE_LAG_RUN_PRIORITY},
)

user_actions_sensor = build_kafka_lag_sensor(
    name="user_actions_sensor",
    job_name="user_actions_stream",
    topic=lambda: contract.USER_ACTIONS_TOPIC,
    checkpoint_keys=lambda streaming: {
        "user_actions": streaming.checkpoint_key(contract.USER_ACTIONS_CHECKPOINT)
    },
    caught_up_assets=[user_action_events.key],
)

# The Parquet files hold the actions within 5 minutes while they arrive (same rule as the page views).
user_actions_freshness_checks, user_actions_freshness_sensor = source_lag_freshness(
    "user_actions_freshness_sensor", [user_action_events.key]
)
