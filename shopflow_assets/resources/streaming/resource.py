"""The thin Dagster resource of the streaming library, and what a streaming asset does around its flow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import dagster as dg

from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.streaming.checkpoints import (
    CHECKPOINT_BUCKET,
    CHECKPOINT_PREFIX,
    read_checkpoint,
)
from shopflow_assets.resources.streaming.flow import StreamFlowConfig
from shopflow_assets.resources.streaming.runner import StreamingRunner

if TYPE_CHECKING:  # the code location loads this module without pyspark
    from pyspark.sql import SparkSession

# --- the Dagster resource -------------------------------------------------------------------------


class SparkStreamingResource(dg.ConfigurableResource):
    """How ShopFlow's streaming queries run: where checkpoints live, trigger interval, batch size."""

    checkpoint_bucket: str = CHECKPOINT_BUCKET
    checkpoint_prefix: str = CHECKPOINT_PREFIX
    processing_time: str = "10 seconds"
    # Records per micro-batch of a bounded run: smaller batches commit more often (less to replay after a
    # crash) but pay the per-batch overhead more often. None: everything available in one batch.
    max_offsets_per_trigger: int | None = 500_000
    min_partitions: int | None = 4

    def checkpoint_key(self, name: str) -> str:
        return f"{self.checkpoint_prefix}/{name}"

    def runner(self, spark: SparkSession, uri: Callable[[str, str], str]) -> StreamingRunner:
        return StreamingRunner(
            spark, uri(self.checkpoint_bucket, self.checkpoint_prefix), processing_time=self.processing_time
        )


class BoundedStreamRunConfig(dg.Config):
    """Run config of every bounded streaming asset: a domain's subclass adds its own knobs and says, in
    `flow_config`, what they make of its flow's config."""

    max_offsets_per_trigger: int = 500_000
    # For tests and benches: another topic, and a key prefix for every output, checkpoint and table.
    topic: str | None = None
    key_prefix: str | None = None

    def flow_config(self) -> StreamFlowConfig:
        """The flow's config from the domain's own knobs."""
        raise NotImplementedError

    def flow_config_for_run(self) -> StreamFlowConfig:
        """`flow_config()` with this run's batch size, moved to the run's key prefix and topic if it names them."""
        flow_config = replace(self.flow_config(), max_offsets_per_trigger=self.max_offsets_per_trigger)
        return flow_config.isolated(self.key_prefix, self.topic)


@dataclass
class BoundedRun:
    """A bounded run started by a Dagster asset: the flow's summary, the lake it wrote to, the lag left."""

    summary: Any
    lake: Any
    lag: int
    flow: StreamFlowConfig

    def metadata(self) -> dict[str, Any]:
        """What every streaming materialization reports: the run's accounting, the lag, the dead letters."""
        return {
            **self.summary.as_metadata(),
            "lag": self.lag,
            "dead_letters": self.lake.uri("quarantine", self.flow.dead_letter_key),
        }


def run_bounded_from_asset(
    context: dg.AssetExecutionContext,
    run_flow: Callable[..., Any],
    run_config: StreamFlowConfig,
    *,
    spark: SparkResource,
    lake: LakeResource,
    kafka: KafkaResource,
    streaming: SparkStreamingResource,
) -> BoundedRun:
    """What every streaming asset does around its flow: check the broker, run `run_flow` bounded with each
    batch logged, then measure the lag between the topic's end offsets and the flow's checkpoint.

    `run_config` is the flow's config, already isolated when the run config asks for it.
    """
    kafka.require_reachable()
    the_lake = lake.get_lake()
    session = spark.get_session()
    summary = run_flow(
        session,
        streaming.runner(session, the_lake.spark_uri),
        the_lake,
        kafka.settings(),
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
    return BoundedRun(summary, the_lake, committed.lag(run_config.topic, end), run_config)


STREAMING_RESOURCE_KEY = "streaming"
# One instance shared by the streaming domains, so merging their Definitions sees the same resource.
STREAMING_RESOURCE = SparkStreamingResource()
