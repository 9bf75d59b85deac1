"""Dagster assets of the user action events: Parquet by event_date, from a bounded streaming run.

Group and owners are applied to the whole domain in definitions.py.
"""

import dagster as dg

from shopflow_assets.contracts import events as contract
from shopflow_assets.domains.events.checks import user_action_check_results, user_action_check_specs
from shopflow_assets.domains.events.pipeline import UserActionsConfig, run_user_actions
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.streaming.resource import (
    BoundedStreamRunConfig,
    SparkStreamingResource,
    run_bounded_from_asset,
)

PREFIX = "events"
USER_ACTION_EVENTS_KEY = dg.AssetKey([PREFIX, contract.USER_ACTION_EVENTS])

user_actions_topic = dg.AssetSpec(
    key=dg.AssetKey([PREFIX, contract.USER_ACTIONS_TOPIC]),
    description="Kafka topic of nested user action events.",
    kinds={"kafka"},
)


class UserActionsRunConfig(BoundedStreamRunConfig):
    max_offsets_per_trigger: int = UserActionsConfig.max_offsets_per_trigger


@dg.asset(
    key=USER_ACTION_EVENTS_KEY,
    deps=[user_actions_topic],
    kinds={"spark", "parquet", "s3"},
    description=(
        "User action events flattened to event_datetime, event_date, event_name, user_id, platform, "
        "product_name, SKU; Parquet in events/user_actions partitioned by event_date (and batch_id, which "
        "makes replays idempotent). Invalid records go to quarantine/dead_letter/user_actions with reason, "
        "topic, partition, offset and raw value."
    ),
    check_specs=user_action_check_specs(USER_ACTION_EVENTS_KEY),
)
def user_action_events(
    context: dg.AssetExecutionContext,
    config: UserActionsRunConfig,
    spark: SparkResource,
    lake: LakeResource,
    kafka: KafkaResource,
    streaming: SparkStreamingResource,
) -> dg.MaterializeResult:
    run_config = UserActionsConfig(max_offsets_per_trigger=config.max_offsets_per_trigger).isolated(
        config.key_prefix, config.topic
    )
    run = run_bounded_from_asset(
        context, run_user_actions, run_config, spark=spark, lake=lake, kafka=kafka, streaming=streaming
    )
    return dg.MaterializeResult(
        metadata={**run.metadata(), "output": run.lake.uri("events", run_config.output_key)},
        check_results=user_action_check_results(run.summary),
    )
