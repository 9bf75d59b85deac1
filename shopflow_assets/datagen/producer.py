"""Send message streams (events.py) to Kafka with confluent-kafka: topic creation, pacing or flat out,
delivery confirmation, graceful Ctrl-C, a live progress bar and a manifest that tests use as ground truth.

Flat out, the loop does nothing but `produce()` on pre-serialized bytes, with librdkafka batching
(linger.ms, batch.size), lz4 compression and a deep local queue. Delivery is confirmed by delivery
reports: by default librdkafka reports only failures (`delivery.report.only.error`), so after the final
flush delivered = produced - failed - still queued; `confirm_each=True` counts a report per message.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from confluent_kafka import KafkaException

from shopflow_assets.datagen.events import BAD, DUPLICATE, ORIGINAL, BadMessage, MessageChunk

# Producer settings for throughput (see the module docstring); any can be overridden by the caller.
THROUGHPUT_CONFIG = {
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "batch.num.messages": 100_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 2_000_000,
    "queue.buffering.max.kbytes": 2_097_151,
}
FLUSH_TIMEOUT_S = 60.0
OVERSIZED_POLICIES = ("skip", "fail")
_OVERSIZED_SAMPLE = 20  # oversized records listed by topic and key in the manifest (all are counted)


class OversizedMessageError(RuntimeError):
    """A record is larger than Kafka accepts (client `message.max.bytes` or the broker's limit)."""


def oversized_error_message(topic: str, key: bytes | str | None, size: int, reason: str) -> str:
    key_text = key.decode(errors="replace") if isinstance(key, bytes) else key
    return (
        f"record too large for Kafka: topic {topic!r}, key {key_text!r}, {size:,} bytes ({reason}); "
        "shrink the record, raise message.max.bytes on the producer and the topic, or skip such records"
    )


@dataclass
class Pace:
    """How fast to send: `rate` messages/s, flat out (rate None and no gaps), or random gaps between
    min_gap_s and max_gap_s (the Olist default: 50-200 ms)."""

    rate: float | None = None
    min_gap_s: float | None = None
    max_gap_s: float | None = None
    seed: int = 42

    @property
    def flat_out(self) -> bool:
        return self.rate is None and self.min_gap_s is None

    def describe(self) -> str:
        if self.rate is not None:
            return f"{self.rate:g} msg/s"
        if self.min_gap_s is not None:
            return f"gaps {self.min_gap_s * 1000:g}-{self.max_gap_s * 1000:g} ms"
        return "max"


@dataclass
class TopicCounts:
    sent: int = 0
    originals: int = 0
    duplicates: int = 0
    late: int = 0
    bad: int = 0
    updates: int = 0


@dataclass
class ProduceManifest:
    stream: str
    pace: str
    produced: int = 0
    delivered: int = 0
    failed: int = 0
    not_confirmed: int = 0
    partial: int = 0  # valid events without some optional field
    elapsed_s: float = 0.0
    rate: float = 0.0  # messages per second, delivered, over the whole run including the final flush
    interrupted: bool = False
    topics: dict[str, TopicCounts] = field(default_factory=dict)
    delivery_errors: dict[str, int] = field(default_factory=dict)
    oversized: int = 0  # records refused as too large and skipped (policy "skip")
    oversized_records: list[dict] = field(default_factory=list)  # the first ones: topic, key, bytes, reason
    bad_messages: list[BadMessage] = field(default_factory=list)
    late_ids: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)

    def totals(self) -> TopicCounts:
        total = TopicCounts()
        for counts in self.topics.values():
            for name in asdict(total):
                setattr(total, name, getattr(total, name) + getattr(counts, name))
        return total

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    def write(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())

    @classmethod
    def load(cls, path: Path) -> ProduceManifest:
        raw = json.loads(Path(path).read_text())
        raw["topics"] = {name: TopicCounts(**counts) for name, counts in raw["topics"].items()}
        raw["bad_messages"] = [BadMessage(**bad) for bad in raw["bad_messages"]]
        return cls(**raw)


def producer_config(confirm_each: bool = False, **overrides) -> dict:
    """The one Kafka config helper (resources.kafka) plus the throughput settings of this module."""
    from shopflow_assets.resources.kafka import kafka_client_config
    from shopflow_assets.settings import get_settings

    config = kafka_client_config(
        get_settings(), "producer", **{"client.id": "shopflow-datagen", **THROUGHPUT_CONFIG}
    )
    config["delivery.report.only.error"] = not confirm_each
    config.update(overrides)
    return config


def ensure_topics(topics: dict[str, int], timeout: float = 30.0) -> dict[str, int]:
    """Create the topics that do not exist, with the given partition counts (broker default replication).
    Returns {topic: partition count now}. A stopped broker raises ServiceUnavailableError."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    from shopflow_assets.identifiers import safe_topic
    from shopflow_assets.resources.kafka import kafka_client_config, require_kafka
    from shopflow_assets.settings import get_settings

    for topic in topics:
        safe_topic(topic, "topic")  # before the broker is asked anything
    settings = get_settings()
    require_kafka(settings)
    admin = AdminClient(kafka_client_config(settings, "admin"))
    existing = admin.list_topics(timeout=timeout).topics
    missing = [
        NewTopic(name, num_partitions=partitions)
        for name, partitions in topics.items()
        if name not in existing
    ]
    for name, future in admin.create_topics(missing, request_timeout=timeout).items() if missing else []:
        try:
            future.result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"could not create Kafka topic {name!r}: {exc}") from exc
    metadata = admin.list_topics(timeout=timeout).topics
    return {name: len(metadata[name].partitions) for name in topics if name in metadata}


class _DeliveryCounter:
    """Delivery report callback: counts successes and failures (by error name)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.errors: Counter[str] = Counter()
        self.too_large: list[dict] = []  # refused by the broker (its limit is below the client's)

    def __call__(self, err, msg) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.errors[err.name()] += 1
            if err.name() == "MSG_SIZE_TOO_LARGE" and len(self.too_large) < _OVERSIZED_SAMPLE:
                key = msg.key().decode(errors="replace") if msg.key() else None
                self.too_large.append(
                    {"topic": msg.topic(), "key": key, "bytes": len(msg.value() or b""), "reason": "broker"}
                )


class _StopOnCtrlC:
    """The first Ctrl-C asks the send loop to stop at its next check (so counts stay exact); a second
    one interrupts for real. Only installable in the main thread; elsewhere Ctrl-C is not ours."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:
            self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def send(
    stream: str,
    chunks: Iterator[MessageChunk],
    *,
    pace: Pace,
    count: int | None = None,
    duration: float | None = None,
    confirm_each: bool = False,
    progress: bool = True,
    config_overrides: dict | None = None,
    expected_total: int | None = None,
    oversized: str = "skip",
) -> ProduceManifest:
    """Send messages from `chunks` until `count` messages, `duration` seconds, the end of the stream or
    Ctrl-C, whichever comes first; flush; return the manifest (counts per topic and kind, deliveries).
    `expected_total` only sizes the progress bar when there is no count.

    A record larger than the producer's `message.max.bytes` is, by the `oversized` policy, skipped and
    counted (`manifest.oversized`, first ones by topic and key) or fails the run with
    OversizedMessageError naming topic, key and size. One the broker refuses as too large is a failed
    delivery, listed the same way."""
    if oversized not in OVERSIZED_POLICIES:
        raise ValueError(f"oversized must be one of {OVERSIZED_POLICIES}, got {oversized!r}")
    from confluent_kafka import Producer

    from shopflow_assets.resources.kafka import require_kafka
    from shopflow_assets.settings import get_settings

    require_kafka(get_settings())
    counter = _DeliveryCounter()
    producer = Producer({**producer_config(confirm_each, **(config_overrides or {})), "on_delivery": counter})
    manifest = ProduceManifest(stream=stream, pace=pace.describe())
    loop = _Loop(producer, pace, duration, _ProgressBar(stream, count or expected_total, progress))
    loop.oversized_policy = oversized
    if pace.flat_out:
        chunks = _prefetch(chunks)
    with loop.bar, _StopOnCtrlC() as stop:
        loop.stop = stop
        for chunk in chunks:
            if loop.produced == 0:
                loop.restart_clock()  # pace and --duration count from the first message, not from set-up
            limit = len(chunk.values) if count is None else min(len(chunk.values), count - loop.produced)
            sent = loop.send_chunk(chunk, limit)
            _account(manifest, chunk, sent)
            if sent < limit or (count is not None and loop.produced >= count):
                break
        manifest.interrupted = stop.requested
        loop.bar.update(loop.produced, time.perf_counter() - loop.started, force=True)
    left = _flush(producer)
    elapsed = time.perf_counter() - loop.started
    manifest.oversized = len(loop.oversized)
    manifest.oversized_records = loop.oversized[:_OVERSIZED_SAMPLE] + counter.too_large
    manifest.produced = loop.produced - manifest.oversized
    manifest.failed = counter.failed
    manifest.delivered = counter.delivered if confirm_each else manifest.produced - counter.failed - left
    manifest.not_confirmed = manifest.produced - manifest.delivered - manifest.failed
    manifest.delivery_errors = dict(counter.errors)
    manifest.elapsed_s = round(elapsed, 3)
    manifest.rate = round(manifest.delivered / elapsed, 1) if elapsed > 0 else 0.0
    return manifest


def _prefetch(chunks: Iterator[MessageChunk], depth: int = 2) -> Iterator[MessageChunk]:
    """Build the next chunks in a background thread while the current one is sent. Chunk building is
    mostly Arrow/NumPy kernels that release the GIL, so it overlaps with the produce loop. Only for
    flat-out runs: a prefetched Olist chunk would carry an ingestion time from before its send."""
    import queue
    import threading

    ready: queue.Queue = queue.Queue(maxsize=depth)
    finished = object()
    cancelled = threading.Event()

    def fill() -> None:
        try:
            for chunk in chunks:
                while not cancelled.is_set():
                    try:
                        ready.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if cancelled.is_set():
                    return
            ready.put(finished)
        except BaseException as exc:  # hand any generation error to the consumer of the chunks
            ready.put(exc)

    worker = threading.Thread(target=fill, name="datagen-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is finished:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancelled.set()


class _Loop:
    """The send loop's state: pacing, deadline, Ctrl-C flag and progress."""

    def __init__(self, producer, pace: Pace, duration: float | None, bar: _ProgressBar):
        self.producer = producer
        self.pace = pace
        self.gaps = np.random.default_rng(pace.seed)
        self.bar = bar
        self.stop: _StopOnCtrlC | None = None
        self.produced = 0
        self.oversized_policy = "skip"
        self.oversized: list[dict] = []
        self.duration = duration
        self.restart_clock()

    def restart_clock(self) -> None:
        self.started = time.perf_counter()
        self.deadline = self.started + self.duration if self.duration else None

    def should_stop(self) -> bool:
        return (self.stop is not None and self.stop.requested) or (
            self.deadline is not None and time.perf_counter() >= self.deadline
        )

    def send_chunk(self, chunk: MessageChunk, limit: int) -> int:
        """Produce chunk messages [0, limit); return how many were handed to the producer."""
        producer, pace = self.producer, self.pace
        produce, poll = producer.produce, producer.poll
        topics, values, keys = chunk.topics, chunk.values, chunk.keys
        if pace.flat_out:
            # the hot loop: checks (stop, deadline, progress) only every 4096 messages
            for start in range(0, limit, 4096):
                if self.should_stop():
                    self.produced += start
                    return start
                stop = min(limit, start + 4096)
                for topic, value, key in zip(
                    topics[start:stop], values[start:stop], keys[start:stop], strict=True
                ):
                    try:
                        produce(topic, value, key)
                    except BufferError:
                        self._produce_blocking(topic, value, key)
                    except KafkaException as exc:
                        self._refused(topic, value, key, exc)
                poll(0)
                self.bar.update(self.produced + min(limit, start + 4096), time.perf_counter() - self.started)
            self.produced += limit
            return limit
        for i in range(limit):
            if pace.rate is not None:
                due = self.started + self.produced / pace.rate
            else:
                due = time.perf_counter() + self.gaps.uniform(pace.min_gap_s, pace.max_gap_s)
            self._wait_until(due)
            if self.should_stop():
                return i
            self._produce_blocking(topics[i], values[i], keys[i])
            self.produced += 1
        return limit

    def _produce_blocking(self, topic, value, key) -> None:
        try:
            _produce_blocking(self.producer, topic, value, key)
        except KafkaException as exc:
            self._refused(topic, value, key, exc)

    def _refused(self, topic, value, key, exc: KafkaException) -> None:
        """produce() refused a record: too large is skipped and counted, or fails clearly; else re-raised."""
        from confluent_kafka import KafkaError

        if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
            raise exc
        if self.oversized_policy == "fail":
            raise OversizedMessageError(
                oversized_error_message(topic, key, len(value), "over the producer's message.max.bytes")
            ) from None
        key_text = key.decode(errors="replace") if isinstance(key, bytes) else key
        self.oversized.append({"topic": topic, "key": key_text, "bytes": len(value), "reason": "producer"})

    def _wait_until(self, due: float) -> None:
        while not (self.stop is not None and self.stop.requested):
            left = due - time.perf_counter()
            if left <= 0:
                return
            self.producer.poll(min(left, 0.1))  # serve delivery reports while waiting
            self.bar.update(self.produced, time.perf_counter() - self.started)


def _produce_blocking(producer, topic, value, key) -> None:
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:
            producer.poll(0.1)


def _account(manifest: ProduceManifest, chunk: MessageChunk, sent: int) -> None:
    """Add the first `sent` messages of the chunk to the per-topic, per-kind counts."""
    if sent == 0:
        return
    kinds, late = chunk.kinds[:sent], chunk.late[:sent]
    n_bad, n_dup, n_late = int((kinds == BAD).sum()), int((kinds == DUPLICATE).sum()), int(late.sum())
    manifest.bad_messages += chunk.bad[:n_bad]
    manifest.duplicate_ids += chunk.duplicate_ids[:n_dup]
    manifest.late_ids += chunk.late_ids[:n_late]
    if chunk.partial is not None:
        manifest.partial += int(chunk.partial[:sent].sum())
    topics = chunk.topics[:sent]
    if topics[0] == topics[-1] and len(set(topics[:: max(1, sent // 64)])) == 1 and len(set(topics)) == 1:
        groups = {topics[0]: np.arange(sent)}
    else:
        names = np.array(topics, dtype=object)
        groups = {str(name): np.flatnonzero(names == name) for name in dict.fromkeys(topics)}
    for topic, positions in groups.items():
        counts = manifest.topics.setdefault(topic, TopicCounts())
        topic_kinds = kinds[positions]
        counts.sent += len(positions)
        counts.originals += int((topic_kinds == ORIGINAL).sum())
        counts.duplicates += int((topic_kinds == DUPLICATE).sum())
        counts.bad += int((topic_kinds == BAD).sum())
        counts.late += int(late[positions].sum())
        if chunk.updates is not None:
            counts.updates += int(chunk.updates[:sent][positions].sum())


def _flush(producer) -> int:
    """Wait for outstanding deliveries; a second Ctrl-C gives up waiting. Returns messages still queued."""
    try:
        return producer.flush(FLUSH_TIMEOUT_S)
    except KeyboardInterrupt:
        return len(producer)


class _ProgressBar:
    """A rich progress bar with the live send rate (or nothing when progress is off)."""

    def __init__(self, stream: str, total: int | None, enabled: bool):
        self.enabled = enabled
        self.total = total
        self.stream = stream
        self._last = 0.0

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn(f"[bold]produce {self.stream}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task(self.stream, total=self.total, rate="")
        return self

    def update(self, done: int, elapsed: float, force: bool = False) -> None:
        if not self.enabled or (elapsed - self._last < 0.2 and not force):
            return
        self._last = elapsed
        self.progress.update(
            self.task, completed=done, rate=f"{done / elapsed:,.0f} msg/s" if elapsed else ""
        )

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.__exit__(*exc)
        return False
