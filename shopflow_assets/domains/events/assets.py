"""Dagster assets of the user action events: Parquet by event_date, from a bounded streaming run.

The streaming library builds the asset from this declaration (see clickstream/assets.py for the other
stream). Group and owners are applied to the whole domain in definitions.py.
"""

from typing import TYPE_CHECKING, Any

import dagster as dg

from shopflow_assets.contracts import events as contract
from shopflow_assets.domains.events.checks import USER_ACTION_CHECKS
from shopflow_assets.resources.streaming.asset import BoundedStreamAsset, kafka_topic_spec
from shopflow_assets.resources.streaming.resource import BoundedStreamRunConfig

if TYPE_CHECKING:
    from shopflow_assets.domains.events.pipeline import UserActionsConfig

PREFIX = "events"
USER_ACTION_EVENTS_KEY = dg.AssetKey([PREFIX, contract.USER_ACTION_EVENTS])

user_actions_topic = kafka_topic_spec(
    PREFIX, contract.USER_ACTIONS_TOPIC, "Kafka topic of nested user action events."
)


class UserActionsRunConfig(BoundedStreamRunConfig):
    max_offsets_per_trigger: int = contract.USER_ACTIONS_MAX_OFFSETS_PER_TRIGGER

    def flow_config(self) -> "UserActionsConfig":
        from shopflow_assets.domains.events.pipeline import UserActionsConfig

        return UserActionsConfig()


def run_user_actions(*args: Any, **kwargs: Any) -> Any:
    """The pipeline's `run_user_actions`, imported when a run starts: the pipeline imports Spark, which the
    code location does not need to load."""
    from shopflow_assets.domains.events.pipeline import run_user_actions as flow

    return flow(*args, **kwargs)


user_action_events = BoundedStreamAsset(
    key=USER_ACTION_EVENTS_KEY,
    topic=user_actions_topic,
    description=(
        "User action events flattened to event_datetime, event_date, event_name, user_id, platform, "
        "product_name, SKU; Parquet in events/user_actions partitioned by event_date (and batch_id, which "
        "makes replays idempotent). Invalid records go to quarantine/dead_letter/user_actions with reason, "
        "topic, partition, offset and raw value."
    ),
    kinds={"spark", "parquet", "s3"},
    run_config_type=UserActionsRunConfig,
    flow=run_user_actions,
    checks=USER_ACTION_CHECKS,
    output_metadata=lambda run: {"output": run.lake.uri("events", run.flow.output_key)},
).build()
