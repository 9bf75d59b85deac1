"""One bounded-stream asset shape for every streaming flow: a domain declares what differs, this builds the asset.

A streaming domain (page views, user actions) states its key, topic, run config, flow, checks and the
metadata of its output; the asset around the flow is the same for all of them: run the flow bounded through
`run_bounded_from_asset`, report the run's accounting and lag, evaluate the checks from the run's summary
(no second read of the output). The library never imports a domain; domains pass their pieces in.
"""

# No `from __future__ import annotations` here: Dagster reads the asset function's `config` annotation,
# which is the domain's run-config class held in this module's closure, so it must be a real object.

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.streaming.flow import StreamFlow
from shopflow_assets.resources.streaming.resource import (
    BoundedRun,
    BoundedStreamRunConfig,
    SparkStreamingResource,
    run_bounded_from_asset,
)


def kafka_topic_spec(prefix: str, topic: str, description: str) -> dg.AssetSpec:
    """The Kafka topic a stream reads, as an external asset of the stream's domain."""
    return dg.AssetSpec(key=dg.AssetKey([prefix, topic]), description=description, kinds={"kafka"})


@dataclass(frozen=True)
class StreamCheck:
    """An asset check evaluated from a bounded run's summary."""

    name: str
    passed: Callable[[Any], bool]
    metadata: Callable[[Any], dict[str, Any]]
    blocking: bool = False
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR

    def spec(self, asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(self.name, asset=asset_key, blocking=self.blocking)

    def result(self, summary: Any) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            check_name=self.name,
            passed=self.passed(summary),
            severity=self.severity,
            metadata=self.metadata(summary),
        )


def accounting_check(name: str, terms: Sequence[str], shown: Sequence[str] = ()) -> StreamCheck:
    """The blocking check every stream has: each record read is one of `terms` (summary counters).

    The summary's own `accounted` decides; the metadata shows records_in against the sum of the terms, plus
    the counters named in `shown`.
    """

    def metadata(summary: Any) -> dict[str, Any]:
        return {
            "records_in": summary.records_in,
            " + ".join(terms): sum(getattr(summary, term) for term in terms),
            **{counter: getattr(summary, counter) for counter in shown},
        }

    return StreamCheck(name, passed=lambda summary: summary.accounted, metadata=metadata, blocking=True)


@dataclass(frozen=True, kw_only=True)
class BoundedStreamAsset:
    """What a streaming domain declares about its asset; `build()` turns it into the Dagster asset.

    First what the catalog shows (key, upstream topic, description, kinds, definition metadata), then what a
    run does (run config, flow, checks, metadata of the output)."""

    key: dg.AssetKey
    topic: dg.AssetSpec
    description: str
    kinds: set[str]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # The launchpad's run config; its `flow_config()` says what the domain's knobs make of the flow's config.
    run_config_type: type[BoundedStreamRunConfig]
    flow: StreamFlow
    checks: Sequence[StreamCheck]
    # Metadata of the output besides the run's accounting, from the finished run.
    output_metadata: Callable[[BoundedRun], dict[str, Any]]

    def build(self) -> dg.AssetsDefinition:
        declared = self
        run_config_type = self.run_config_type

        def materialize(
            context: dg.AssetExecutionContext,
            config: run_config_type,  # type: ignore[valid-type]
            spark: SparkResource,
            lake: LakeResource,
            kafka: KafkaResource,
            streaming: SparkStreamingResource,
        ) -> dg.MaterializeResult:
            run = run_bounded_from_asset(
                context,
                declared.flow,
                config.flow_config_for_run(),
                spark=spark,
                lake=lake,
                kafka=kafka,
                streaming=streaming,
            )
            return dg.MaterializeResult(
                metadata={**run.metadata(), **declared.output_metadata(run)},
                check_results=[check.result(run.summary) for check in declared.checks],
            )

        materialize.__name__ = self.key.path[-1]
        return dg.asset(
            key=self.key,
            deps=[self.topic],
            kinds=self.kinds,
            description=self.description,
            check_specs=[check.spec(self.key) for check in self.checks],
            metadata=dict(self.metadata) or None,
        )(materialize)
