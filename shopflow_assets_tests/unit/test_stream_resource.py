"""The streaming resource's pure parts: Spark's checkpoint logs, lag, progress accounting."""

from __future__ import annotations

import json

import pytest

from shopflow_assets.domains.kafka_sensors import lag_decision
from shopflow_assets.resources.lake import LocalLake
from shopflow_assets.resources.streaming.checkpoints import (
    CommittedOffsets,
    latest_batch_id,
    parse_offset_log,
    read_checkpoint,
)
from shopflow_assets.resources.streaming.runner import QueryReport

pytestmark = pytest.mark.unit

OFFSET_LOG = "\n".join(
    [
        "v1",
        json.dumps({"batchWatermarkMs": 1704103380000, "batchTimestampMs": 1, "conf": {}}),
        json.dumps({"clicks_topic": {"1": 120, "0": 95}}),
    ]
)


def test_offset_log_is_parsed_into_metadata_and_per_source_offsets():
    metadata, sources = parse_offset_log(OFFSET_LOG)
    assert metadata["batchWatermarkMs"] == 1704103380000
    assert sources == [{"clicks_topic": {"1": 120, "0": 95}}]


def test_offset_log_without_version_line_is_rejected():
    with pytest.raises(ValueError, match="version"):
        parse_offset_log('{"a": 1}')


def test_latest_batch_id_ignores_crc_and_temporary_files():
    assert latest_batch_id(["0", "1", ".1.crc", "10", "2.tmp", "_metadata"]) == 10
    assert latest_batch_id([".0.crc"]) is None


def _write_checkpoint(lake: LocalLake, key: str, offsets: dict[int, str], commits: list[int]) -> None:
    for batch, text in offsets.items():
        lake.put_bytes("lakehouse", f"{key}/offsets/{batch}", text.encode())
    for batch in commits:
        lake.put_bytes("lakehouse", f"{key}/commits/{batch}", b'v1\n{"nextBatchWatermarkMs":0}')


def test_only_a_committed_batch_counts_as_processed(tmp_path):
    lake = LocalLake(tmp_path)
    later = OFFSET_LOG.replace("120", "400").replace("95", "300")
    # Batch 1 has offsets but no commit: it was cut off and will be replayed, so batch 0 is what is done.
    _write_checkpoint(lake, "_checkpoints/pv", {0: OFFSET_LOG, 1: later}, commits=[0])
    committed = read_checkpoint(lake, "lakehouse", "_checkpoints/pv")
    assert committed.batch_id == 0
    assert committed.offsets == {"clicks_topic": {0: 95, 1: 120}}
    assert committed.watermark_ms == 1704103380000
    assert committed.lag("clicks_topic", {0: 100, 1: 120, 2: 7}) == 5 + 0 + 7


def test_a_checkpoint_that_never_committed_lags_by_the_whole_topic(tmp_path):
    committed = read_checkpoint(LocalLake(tmp_path), "lakehouse", "_checkpoints/none")
    assert committed == CommittedOffsets(None, {})
    assert committed.lag("t", {0: 10, 1: 5}) == 15


def test_lag_decision_takes_the_checkpoint_furthest_behind():
    ahead = CommittedOffsets(3, {"t": {0: 10}})
    behind = CommittedOffsets(1, {"t": {0: 4}})
    lag, lags = lag_decision("t", {0: 10}, {"main": ahead, "dead_letter": behind})
    assert (lag, lags) == (6, {"main": 0, "dead_letter": 6})
    assert lag_decision("t", {0: 10}, {"main": ahead})[0] == 0


def test_query_report_sums_input_late_drops_and_state_updates_over_batches():
    report = QueryReport("page_views")
    for batch, rows, late, accepted in ((0, 100, 0, 90), (1, 50, 4, 40), (2, 0, 0, 0)):
        report.add_progress(
            {
                "batchId": batch,
                "numInputRows": rows,
                "durationMs": {"triggerExecution": 1000},
                "stateOperators": [
                    {
                        "operatorName": "dedupeWithinWatermark",
                        "numRowsUpdated": accepted,
                        "numRowsDroppedByWatermark": late,
                    },
                    {"operatorName": "stateStoreSave", "numRowsUpdated": 3, "numRowsDroppedByWatermark": 0},
                ],
                "eventTime": {"watermark": f"2024-01-01T10:0{batch}:00.000Z"},
            }
        )
    assert report.batches == 3
    assert report.records_in == 150
    assert report.dropped_by_watermark == 4
    assert report.state_rows_updated == {"dedupeWithinWatermark": 130, "stateStoreSave": 9}
    assert (report.first_batch_id, report.last_batch_id) == (0, 2)
    assert report.watermark == "2024-01-01T10:02:00.000Z"
    # The no-data batch does not dilute the throughput figure.
    assert report.records_per_second == pytest.approx(75.0)
