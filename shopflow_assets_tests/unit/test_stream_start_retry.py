"""A foreachBatch query's start on Spark Connect is retried after the server's Python worker failed to connect
back in time (seen in a soak at load 13-21: the worker's imports outlast Spark's fixed 10 s), and only then."""

from __future__ import annotations

import pytest

from shopflow_assets.resources.streaming.runner import WORKER_CONNECT_BACK_ERROR, start_with_worker_retry

pytestmark = pytest.mark.unit


class Starts:
    """A start that fails with the given errors, in order, then returns a query."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "query"


def connect_back_error() -> Exception:
    return RuntimeError(f"{WORKER_CONNECT_BACK_ERROR}.\n\nJVM stacktrace:\norg.apache.spark.SparkException")


def test_a_late_worker_is_started_again(caplog):
    start = Starts(connect_back_error(), connect_back_error())
    assert start_with_worker_retry(start, "fact_page_views", backoff_s=0) == "query"
    assert start.calls == 3
    assert "fact_page_views" in caplog.text and "attempt 2 of 3" in caplog.text


def test_the_last_attempt_raises_the_servers_error():
    start = Starts(*(connect_back_error() for _ in range(3)))
    with pytest.raises(RuntimeError, match=WORKER_CONNECT_BACK_ERROR):
        start_with_worker_retry(start, "fact_page_views", backoff_s=0)
    assert start.calls == 3


def test_any_other_error_is_not_retried():
    start = Starts(ValueError("checkpoint location is not a directory"))
    with pytest.raises(ValueError, match="checkpoint"):
        start_with_worker_retry(start, "fact_page_views", backoff_s=0)
    assert start.calls == 1
