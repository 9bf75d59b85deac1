"""Dagster assets of the user action events (seed 002): Parquet by event_date, from a bounded streaming run."""

import dagster as dg

from shopflow_assets.contracts import events as contract
from shopflow_assets.domains.events.pipeline import UserActionsConfig, run_user_actions
from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.streaming import SparkStreamingResource, read_checkpoint
from shopflow_assets.settings import get_settings

GROUP = "events"

user_actions_topic = dg.AssetSpec(
    key=dg.AssetKey(["kafka", contract.USER_ACTIONS_TOPIC]),
    description="Kafka topic of nested user action events (seed 002).",
    group_name=GROUP,
    kinds={"kafka"},
)

ACCOUNTED_CHECK = "every_action_accounted_for"


class UserActionsRunConfig(dg.Config):
    max_offsets_per_trigger: int = UserActionsConfig.max_offsets_per_trigger
    # For tests and benches: another topic, and a key prefix for the outputs and checkpoint.
    topic: str | None = None
    key_prefix: str | None = None


@dg.asset(
    name=contract.USER_ACTION_EVENTS,
    group_name=GROUP,
    deps=[user_actions_topic],
    kinds={"spark", "parquet", "s3"},
    description=(
        "User action events flattened to event_datetime, event_date, event_name, user_id, platform, "
        "product_name, SKU; Parquet in events/user_actions partitioned by event_date (and batch_id, which "
        "makes replays idempotent). Invalid records go to quarantine/dead_letter/user_actions with reason, "
        "topic, partition, offset and raw value."
    ),
    check_specs=[dg.AssetCheckSpec(ACCOUNTED_CHECK, asset=contract.USER_ACTION_EVENTS, blocking=True)],
)
def user_action_events(
    context: dg.AssetExecutionContext,
    config: UserActionsRunConfig,
    spark: SparkResource,
    lake: LakeResource,
    kafka: KafkaResource,
    streaming: SparkStreamingResource,
) -> dg.MaterializeResult:
    settings = get_settings()
    kafka.require_reachable()
    the_lake = lake.get_lake()
    session = spark.get_session()
    run_config = UserActionsConfig(max_offsets_per_trigger=config.max_offsets_per_trigger).isolated(
        config.key_prefix, config.topic
    )
    summary = run_user_actions(
        session,
        streaming.runner(session, the_lake.spark_uri),
        the_lake,
        settings,
        run_config,
        bounded=True,
        on_progress=lambda name, p: context.log.info(
            f"{name} batch {p.get('batchId')}: {p.get('numInputRows')} records"
        ),
    )
    end = kafka.end_offsets(run_config.topic)
    committed = read_checkpoint(
        the_lake, streaming.checkpoint_bucket, streaming.checkpoint_key(run_config.checkpoint_name)
    )
    return dg.MaterializeResult(
        metadata={
            **summary.as_metadata(),
            "lag": committed.lag(run_config.topic, end),
            "output": the_lake.uri("events", run_config.output_key),
            "dead_letters": the_lake.uri("quarantine", run_config.dead_letter_key),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=ACCOUNTED_CHECK,
                passed=summary.accounted,
                metadata={
                    "records_in": summary.records_in,
                    "written + dead_lettered": summary.written + summary.dead_lettered,
                },
            )
        ],
    )
