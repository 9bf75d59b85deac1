"""Kafka sensors retry a failed run under a new run key, a bounded number of times (no broker needed)."""

from __future__ import annotations

import dagster as dg

from shopflow_assets.resources.streaming import (
    END_OFFSETS_TAG,
    MAX_FAILED_RUNS_PER_OFFSETS,
    run_request_for_offsets,
)

JOB = "page_views_stream"
OFFSETS = "clicks_topic:0=40,1=38"


@dg.op
def _noop() -> None: ...


def _record_failed_run(instance, job_name: str, tags: dict[str, str]) -> None:
    @dg.job(name=job_name)
    def job() -> None:
        _noop()

    instance.report_run_failed(
        instance.create_run_for_job(job, tags=tags, status=dg.DagsterRunStatus.STARTED)
    )


def request(instance):
    return run_request_for_offsets(instance, JOB, OFFSETS, description="lag 78", tags={"shopflow/lag": "78"})


def test_new_offsets_get_one_run_then_failed_runs_are_retried_until_the_limit():
    with dg.instance_for_test() as instance:
        first = request(instance)
        assert isinstance(first, dg.RunRequest)
        assert first.run_key == OFFSETS
        assert first.tags == {"shopflow/lag": "78", END_OFFSETS_TAG: OFFSETS}

        for attempt in range(1, MAX_FAILED_RUNS_PER_OFFSETS + 1):
            _record_failed_run(instance, JOB, first.tags)
            retry = request(instance)
            if attempt < MAX_FAILED_RUNS_PER_OFFSETS:
                assert isinstance(retry, dg.RunRequest)
                assert retry.run_key == f"{OFFSETS}#retry{attempt}"
        assert isinstance(retry, dg.SkipReason)
        assert f"{MAX_FAILED_RUNS_PER_OFFSETS} runs of {JOB} failed" in retry.skip_message


def test_failures_of_other_offsets_or_other_jobs_do_not_count():
    with dg.instance_for_test() as instance:
        _record_failed_run(instance, JOB, {END_OFFSETS_TAG: "clicks_topic:0=1"})
        _record_failed_run(instance, "another_job", {END_OFFSETS_TAG: OFFSETS})
        assert request(instance).run_key == OFFSETS
