"""What every streaming flow (page views, user actions) shares: where it reads and writes, and how a test or
a bench runs the same flow on its own topic and keys.

A domain's flow config subclasses `StreamFlowConfig`, adds its own outputs and lists in `PREFIXED` every
field that names a lake key or a checkpoint, so `isolated()` moves all of them under one prefix."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

from shopflow_assets.identifiers import safe_prefix
from shopflow_assets.resources.streaming.source import kafka_stream


@dataclass
class StreamFlowConfig:
    topic: str
    dead_letter_key: str  # in the quarantine bucket
    checkpoint_name: str
    max_offsets_per_trigger: int | None = 500_000
    # None: one task per Kafka partition. Splitting partitions into more tasks than cores only adds
    # consumers (measured slower); set it for a topic with fewer partitions than cores.
    min_partitions: int | None = None

    PREFIXED: ClassVar[tuple[str, ...]] = ("dead_letter_key", "checkpoint_name")

    def isolated(self, prefix: str | None, topic: str | None = None) -> Self:
        """The same flow under `prefix` (every output and checkpoint) and/or another topic: how tests and
        benches run it without touching the real tables."""
        changes: dict[str, object] = {"topic": topic or self.topic}
        if prefix:
            checked = safe_prefix(prefix, "prefix")
            changes |= {name: f"{checked}/{getattr(self, name)}" for name in self.PREFIXED}
            changes |= self.isolated_extras(checked)
        return replace(self, **changes)

    def isolated_extras(self, prefix: str) -> dict[str, object]:
        """Further changes an isolated copy needs besides prefixed keys (none by default)."""
        return {}


@dataclass(frozen=True)
class QueryContext:
    """What a flow's queries start on: the Spark session, the runner (checkpoints, triggers), the lake, the
    settings (broker, warehouse), and whether the run is bounded."""

    spark: Any
    runner: Any
    lake: Any
    settings: Any
    bounded: bool

    def read(self, config: StreamFlowConfig) -> Any:
        """The flow's topic as a stream of Kafka records, in batches of `max_offsets_per_trigger`."""
        return kafka_stream(
            self.spark,
            self.settings.kafka_bootstrap_servers,
            config.topic,
            max_offsets_per_trigger=config.max_offsets_per_trigger,
            min_partitions=config.min_partitions,
        )

    def start(self, writer: Any, checkpoint_name: str) -> Any:
        """Start one query of the flow on the runner, bounded or not as the run is."""
        return self.runner.start(writer, checkpoint_name, bounded=self.bounded)


@dataclass(frozen=True)
class StreamFlow:
    """One streaming flow as the asset, the CLI, the tests and the benches run it: start its queries on a
    runner, wait for them (bounded: until the available records are processed; else until stopped), then
    summarize what the queries' batch handlers recorded in a fresh `stats` object."""

    start_queries: Callable[[QueryContext, Any, Any], dict[str, Any]]  # (context, config, stats) -> queries
    new_stats: Callable[[], Any]
    summarize: Callable[[list[Any], Any], Any]  # (query reports, stats) -> the run's summary

    def __call__(
        self,
        spark: Any,
        runner: Any,
        lake: Any,
        settings: Any,
        config: StreamFlowConfig,
        *,
        bounded: bool = True,
        stop_event: threading.Event | None = None,
        on_progress: Callable[[str, dict], None] | None = None,
    ) -> Any:
        stats = self.new_stats()
        queries = self.start_queries(QueryContext(spark, runner, lake, settings, bounded), config, stats)
        reports = runner.wait(queries, stop_event=stop_event, on_progress=on_progress)
        return self.summarize(reports, stats)
