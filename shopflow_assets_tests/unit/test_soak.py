"""bench/soak.py's pure parts: the run summary, the target verdict and the progress line."""

import sys

import pytest

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import soak  # noqa: E402


def _run(job: str, status: str, error: str | None = None, run_id: str = "0123456789ab") -> soak.RunOutcome:
    return soak.RunOutcome(run_id, job, status, "soak", error)


RUNS = [
    _run("ecommerce_daily_batch", "SUCCESS"),
    _run("page_views_stream", "SUCCESS"),
    _run("page_views_stream", "FAILURE", "step clickstream__fact_page_views: KafkaException: broker down"),
    _run("olist_pipeline", "STARTED"),
    _run("erp_pipeline", "QUEUED"),
    _run("rainforest_medallion", "CANCELED", "canceled (no error recorded)"),
]


def test_runs_are_counted_by_outcome_and_job_and_a_canceled_run_counts_as_failed():
    summary = soak.summarize_runs(RUNS)

    assert (summary.started, summary.succeeded, summary.failed, summary.in_progress) == (6, 2, 2, 2)
    assert summary.by_job["page_views_stream"] == {"succeeded": 1, "failed": 1, "in_progress": 0}
    assert summary.by_job["olist_pipeline"] == {"succeeded": 0, "failed": 0, "in_progress": 1}
    assert [run.job for run in summary.failures] == ["page_views_stream", "rainforest_medallion"]


PASSING = [soak.Freshness("olist/gold:gold_freshness", "passed")]


def test_the_target_is_met_with_no_failure_no_tick_error_and_fresh_tables():
    summary = soak.summarize_runs(
        [_run("ecommerce_daily_batch", "SUCCESS"), _run("olist_pipeline", "STARTED")]
    )

    assert soak.target_misses(summary, [], PASSING) == []


def test_every_miss_is_listed_with_its_job_instigator_or_check_and_error():
    ticks = [soak.TickError("erp_change_sensor", "sensor", "OperationalError: connection refused")]
    freshness = [
        *PASSING,
        soak.Freshness("erp/fact_sales:fact_sales_freshness", "failed", "lag_minutes=45"),
        soak.Freshness("shop/fact_orders:fact_orders_freshness", soak.NO_EVALUATION),
    ]

    misses = soak.target_misses(soak.summarize_runs(RUNS), ticks, freshness)

    assert misses == [
        "run 01234567 of page_views_stream failed: step clickstream__fact_page_views: KafkaException: broker down",
        "run 01234567 of rainforest_medallion failed: canceled (no error recorded)",
        "sensor erp_change_sensor tick error: OperationalError: connection refused",
        "freshness check erp/fact_sales:fact_sales_freshness: failed (lag_minutes=45)",
        "freshness check shop/fact_orders:fact_orders_freshness: no evaluation",
    ]


def test_a_code_location_without_freshness_checks_misses_the_target():
    summary = soak.summarize_runs([_run("ecommerce_daily_batch", "SUCCESS")])

    assert soak.target_misses(summary, [], []) == [
        "no asset check whose name contains 'freshness' in the code location"
    ]


def test_the_progress_line_gives_elapsed_minutes_runs_failures_and_the_failed_jobs():
    line = soak.progress_line(125, soak.summarize_runs(RUNS), tick_errors=3)

    assert line == (
        "    2.1 min: 6 runs (2 succeeded, 2 failed, 2 in progress), 3 tick errors; "
        "failed: page_views_stream, rainforest_medallion"
    )


@pytest.mark.parametrize(
    ("tags", "origin"),
    [
        ({soak.SOAK_TAG: "launched", "dagster/partition": "2026-12-06"}, "soak"),
        ({"dagster/sensor_name": "clicks_topic_sensor"}, "sensor clicks_topic_sensor"),
        ({"dagster/schedule_name": "erp_load_sweep"}, "schedule erp_load_sweep"),
        ({}, "other"),
    ],
)
def test_a_run_is_attributed_to_what_launched_it(tags, origin):
    assert soak.launched_by(tags) == origin


def test_stopped_services_end_the_soak_in_one_line_naming_services_up(monkeypatch):
    from shopflow_assets.devstack import stack

    statuses = [
        stack.ServiceStatus("kafka", stack.RUNNING, "127.0.0.1:9092", 1),
        stack.ServiceStatus("postgres", stack.STOPPED, "127.0.0.1:5432", None, "not reachable"),
    ]
    monkeypatch.setattr(stack, "status", lambda: statuses)

    with pytest.raises(soak.SoakError) as raised:
        soak.require_services()

    message = str(raised.value)
    assert "postgres (127.0.0.1:5432)" in message and "kafka" not in message
    assert "`uv run shopflow services up`" in message and "\n" not in message


def test_an_error_is_shown_as_its_class_and_first_lines_with_secrets_masked():
    from dagster._utils.error import SerializableErrorInfo

    error = SerializableErrorInfo(
        "dagster._core.errors.DagsterSubprocessError: During execution errors occurred:\n"
        "In process 7: password s3cr3t rejected\nStack Trace: ...",
        [],
        "DagsterSubprocessError",
    )

    assert soak._error_text(error, ["s3cr3t"]) == (
        "DagsterSubprocessError: During execution errors occurred: In process 7: password *** rejected"
    )


def test_a_worker_traceback_shows_the_exception_that_ended_it():
    # What the soak's failed olist_pipeline runs carried: the first line names the query, the cause is
    # the last exception of the foreachBatch worker's traceback.
    text = (
        "streaming query customers failed: (STREAM_FAILED) [PYTHON_EXCEPTION] Found error inside foreachBatch"
        " Python process: Traceback (most recent call last):\n"
        '  File "/work/main/shopflow_assets/domains/marketplace/pipeline.py", line 636, in propagate\n'
        "    if stale.isEmpty():\n"
        "pyspark.errors.exceptions.connect.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column"
        " `seller_id` cannot be resolved. token=s3cr3t\n"
        "JVM stacktrace:\n"
        "org.apache.spark.sql.catalyst.ExtendedAnalysisException\n"
    )

    shown = soak._clean(text, ["s3cr3t"])

    assert shown.startswith("streaming query customers failed: (STREAM_FAILED)")
    assert shown.endswith(
        "… pyspark.errors.exceptions.connect.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column"
        " `seller_id` cannot be resolved. token=***"
    )
    assert soak._clean("KeyError: 'x'\nsecond line", []) == "KeyError: 'x'"  # no traceback: first line only


def test_stop_ends_the_childs_whole_process_group():
    import subprocess

    child = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300"], start_new_session=True)

    soak.stop(child, grace=10)

    assert child.poll() is not None
    assert not soak._group_alive(child.pid)


def test_a_second_ctrl_c_does_not_stop_the_stopping():
    """`uv run` passes Ctrl-C on to the soak, which may get it twice: the children must still all stop."""
    import os
    import signal
    import subprocess
    import threading

    # Each child takes a moment to end after SIGTERM, as dagster dev does.
    children = [
        subprocess.Popen(
            ["sh", "-c", "trap 'sleep 1; exit 0' TERM; sleep 300 & wait"], start_new_session=True
        )
        for _ in range(2)
    ]
    interrupt = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    interrupt.start()
    try:
        soak.stop_all(children)
    finally:
        interrupt.cancel()
    assert all(not soak._group_alive(child.pid) for child in children)
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN  # Ctrl-C works again afterwards
