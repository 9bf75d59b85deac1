"""What a checkpoint has committed, read without Spark and without a Kafka consumer (sensors, lag)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

CHECKPOINT_BUCKET = "lakehouse"
CHECKPOINT_PREFIX = "_checkpoints"


# --- what a checkpoint has committed (for sensors and lag) ----------------------------------------


def parse_offset_log(text: str) -> tuple[dict[str, Any], list[dict[str, dict[str, int]]]]:
    """Spark's `offsets/<batch>` file -> (metadata, one offset dict per source).

    Format: `v1`, then a metadata JSON line (batchWatermarkMs, batchTimestampMs, conf), then one line per
    source; a Kafka source's line is `{"<topic>": {"<partition>": <next offset>}}` (`-` for a source
    without an offset yet).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("v"):
        raise ValueError("not a Spark offset log: missing version line")
    metadata = json.loads(lines[1]) if len(lines) > 1 else {}
    sources = [json.loads(line) if line.strip() != "-" else {} for line in lines[2:]]
    return metadata, sources


def latest_batch_id(names: Iterable[str]) -> int | None:
    """The highest batch id among file names of a Spark metadata log (`0`, `1`, ... ignoring temp files)."""
    ids = [int(name) for name in names if name.isdigit()]
    return max(ids) if ids else None


@dataclass(frozen=True)
class CommittedOffsets:
    """The Kafka offsets a query has fully processed: the end offsets of its last committed batch."""

    batch_id: int | None
    offsets: dict[str, dict[int, int]]  # topic -> partition -> next offset to read
    watermark_ms: int = 0

    def lag(self, topic: str, end_offsets: dict[int, int]) -> int:
        """Records in the topic the query has not committed yet."""
        done = self.offsets.get(topic, {})
        return sum(max(0, end - done.get(partition, 0)) for partition, end in end_offsets.items())


def read_committed_offsets(
    list_names: Callable[[str], list[str]], read_text: Callable[[str], str]
) -> CommittedOffsets:
    """Read a checkpoint through two callables over its directory (`offsets`/`commits` relative names).

    `list_names("commits")` lists file names in that sub-directory; `read_text("offsets/7")` reads one.
    Only a batch with a commit counts: a batch whose offsets are written but not committed was cut off
    and will be replayed.
    """
    committed = latest_batch_id(list_names("commits"))
    if committed is None:
        return CommittedOffsets(None, {})
    metadata, sources = parse_offset_log(read_text(f"offsets/{committed}"))
    offsets: dict[str, dict[int, int]] = {}
    for source in sources:
        for topic, partitions in source.items():
            offsets.setdefault(topic, {}).update({int(p): int(o) for p, o in partitions.items()})
    return CommittedOffsets(committed, offsets, int(metadata.get("batchWatermarkMs") or 0))


def read_checkpoint(lake: Any, bucket: str, key: str) -> CommittedOffsets:
    """What the checkpoint at lake `bucket/key` has committed, read with the lake's object API (no Spark)."""
    prefix = key.rstrip("/") + "/"
    names = {
        sub: [k.rsplit("/", 1)[-1] for k in lake.list_keys(bucket, f"{prefix}{sub}/")]
        for sub in ("commits", "offsets")
    }
    return read_committed_offsets(
        lambda sub: names.get(sub, []), lambda rel: lake.get_bytes(bucket, prefix + rel).decode("utf-8")
    )
