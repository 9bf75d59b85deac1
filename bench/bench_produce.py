"""Events/s of `produce actions --rate max` to the local broker (target: >= 200k/s on 2 cores).

Prints the generation rate alone (no Kafka), then the end-to-end rate of the real producer path
(generation + produce + final flush; failures come back as delivery reports), on a fresh topic that is
deleted afterwards. Usage: uv run python bench/bench_produce.py [--count N] [--partitions P]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import time
import uuid

from harness import Figure, record

from shopflow_assets.datagen.events import CHUNK_SIZE, ActionOptions, action_stream
from shopflow_assets.datagen.producer import Pace, ensure_topics, send

TARGET_EVENTS_PER_S = 200_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2_000_000)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()

    chunks = max(1, args.count // CHUNK_SIZE // 4)
    started = time.perf_counter()
    generated = sum(len(c.values) for c in itertools.islice(action_stream(ActionOptions()), chunks))
    gen_rate = generated / (time.perf_counter() - started)
    print(f"generate actions (no Kafka): {generated:,} events, {gen_rate:,.0f} events/s")

    topic = f"bench_user_actions_{uuid.uuid4().hex[:8]}"
    ensure_topics({topic: args.partitions})
    cpu_before = _cpu_seconds()
    try:
        manifest = send(
            "actions",
            action_stream(ActionOptions(topic=topic, count=args.count)),
            pace=Pace(),
            count=args.count,
            progress=True,
        )
    finally:
        _delete_topic(topic)
    cpu = _cpu_seconds() - cpu_before
    print(
        f"produce actions --rate max: {manifest.delivered:,} delivered / {manifest.produced:,} produced, "
        f"{manifest.failed} failed, {manifest.elapsed_s:.2f} s -> {manifest.rate:,.0f} events/s"
    )
    # On a shared machine the wall-clock rate depends on the load; CPU per event does not.
    print(
        f"process CPU (main + librdkafka threads): {cpu:.2f} s = {cpu / manifest.produced * 1e6:.2f} us/event"
    )
    record(
        "produce",
        [
            Figure("produce actions --rate max", manifest.rate, "events/s", TARGET_EVENTS_PER_S, "higher"),
            Figure("CPU per event", cpu / manifest.produced * 1e6, "us"),
        ],
        delivered=manifest.delivered,
        failed=manifest.failed,
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _delete_topic(topic: str) -> None:
    from confluent_kafka.admin import AdminClient

    from shopflow_assets.resources.kafka import kafka_client_config
    from shopflow_assets.settings import get_settings

    admin = AdminClient(kafka_client_config(get_settings(), "admin"))
    for future in admin.delete_topics([topic]).values():
        future.result()


if __name__ == "__main__":
    main()
