"""Soak: `dagster dev` with automation on, the generators producing, one run of each batch job, for N minutes.

    uv run python bench/soak.py [--minutes 30] [--port 3300] [--workdir DIR]

On the running service stack (`uv run shopflow services up`: Kafka, MinIO, PostgreSQL, the warm Spark
driver) it starts, the way `make dev` does, `dagster dev -w workspace.yaml` with SHOPFLOW_ENV=docker and
SHOPFLOW_AUTOMATION=on, on a fresh DAGSTER_HOME (and its own DuckDB warehouse and landing folders) in a
work directory, so nothing mixes with the user's history. Then:
- generators: `shopflow produce clicks --rate 200`, `shopflow produce actions --rate 1000` and
  `shopflow simulate erp --changes-per-minute 30`, for the whole soak; the sensors react to them;
- one run of each batch job, launched through the webserver: `ecommerce_daily_batch` for yesterday (UTC),
  `rainforest_medallion` for the same day, `olist_pipeline` (its input generated and sent to Kafka first).

A progress line every minute. At the end it reads the instance: runs started, succeeded, failed (each
failed run's job and first error line), sensor and schedule tick errors, the latest evaluation of every
asset check whose name contains "freshness", and the peak RSS of the whole process tree (sampled). The
result goes to bench/out/soak.json. Target: 0 failed runs, 0 tick errors, every freshness check passing;
the exit code is 1 when it is missed, with the reasons. Everything it started is stopped on the way out,
Ctrl-C and errors included; the work directory (logs of dagster dev and the generators) is kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import Figure, PeakMemory, record

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCATION = "shopflow"
BATCH_JOBS = ("ecommerce_daily_batch", "rainforest_medallion", "olist_pipeline")
SOAK_TAG = "shopflow/soak"
# Run statuses that are over; anything else (queued, starting, started, canceling) is still in progress.
SUCCEEDED, FAILED, CANCELED = "SUCCESS", "FAILURE", "CANCELED"
NO_EVALUATION = "no evaluation"


# --- pure parts (unit-tested without Dagster) -----------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    job: str
    status: str  # DagsterRunStatus name
    launched_by: str  # "soak", "sensor <name>", "schedule <name>" or "other"
    error: str | None = None


@dataclass(frozen=True)
class TickError:
    instigator: str  # sensor or schedule name
    kind: str  # "sensor" or "schedule"
    error: str


@dataclass(frozen=True)
class Freshness:
    check: str  # asset/path:check_name
    state: str  # "passed", "failed" or NO_EVALUATION
    detail: str = ""


@dataclass
class RunSummary:
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    in_progress: int = 0
    by_job: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[RunOutcome] = field(default_factory=list)


def summarize_runs(runs: list[RunOutcome]) -> RunSummary:
    """Counts by outcome and job; a canceled run counts as failed (nothing in a soak should cancel one)."""
    summary = RunSummary(started=len(runs))
    for run in runs:
        outcome = (
            "succeeded"
            if run.status == SUCCEEDED
            else "failed"
            if run.status in (FAILED, CANCELED)
            else "in_progress"
        )
        setattr(summary, outcome, getattr(summary, outcome) + 1)
        counts = summary.by_job.setdefault(run.job, {"succeeded": 0, "failed": 0, "in_progress": 0})
        counts[outcome] += 1
        if outcome == "failed":
            summary.failures.append(run)
    return summary


def target_misses(summary: RunSummary, tick_errors: list[TickError], freshness: list[Freshness]) -> list[str]:
    """Why the target (0 failed runs, 0 tick errors, every freshness check passing) is missed; [] when met."""
    misses = [f"run {run.run_id[:8]} of {run.job} failed: {run.error}" for run in summary.failures]
    misses += [f"{tick.kind} {tick.instigator} tick error: {tick.error}" for tick in tick_errors]
    if not freshness:
        misses.append("no asset check whose name contains 'freshness' in the code location")
    misses += [
        f"freshness check {check.check}: {check.state}" + (f" ({check.detail})" if check.detail else "")
        for check in freshness
        if check.state != "passed"
    ]
    return misses


def progress_line(elapsed_seconds: float, summary: RunSummary, tick_errors: int) -> str:
    failed_jobs = sorted({run.job for run in summary.failures})
    return (
        f"  {elapsed_seconds / 60:5.1f} min: {summary.started} runs ({summary.succeeded} succeeded, "
        f"{summary.failed} failed, {summary.in_progress} in progress), {tick_errors} tick errors"
        + (f"; failed: {', '.join(failed_jobs)}" if failed_jobs else "")
    )


def launched_by(tags: dict[str, str]) -> str:
    if SOAK_TAG in tags:
        return "soak"
    if "dagster/sensor_name" in tags:
        return f"sensor {tags['dagster/sensor_name']}"
    if "dagster/schedule_name" in tags:
        return f"schedule {tags['dagster/schedule_name']}"
    return "other"


# --- reading the instance -----------------------------------------------------------------------------


def _secrets() -> list[str]:
    """Every credential the settings hold, to be masked in any error text the soak prints or records."""
    from pydantic import SecretStr

    from shopflow_assets.settings import get_settings

    settings = get_settings()
    values = [value.get_secret_value() for value in dict(settings).values() if isinstance(value, SecretStr)]
    return [value for value in [*values, settings.aws_access_key_id] if value]


# The line that ends a Python traceback: `package.module.SomeError: message`.
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt): .*")


def _clean(text: str | None, secrets: list[str]) -> str:
    """The first line of an error (and the next one when the first only introduces it), secrets masked.
    An error carrying a traceback (a Spark Connect error from a foreachBatch worker) also shows the
    traceback's last exception: the first line only says which query failed, not why."""
    from shopflow_assets.redact import redact

    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line), None)
    if start is not None:
        # the worker's Python frames, up to the JVM's own stack trace
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("JVM stacktrace")), len(lines))
        raised = [line for line in lines[start + 1 : end] if _RAISED.match(line)]
        if raised:
            return redact(f"{lines[0][:500]} … {raised[-1][:300]}", secrets)
    shown = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else (lines or [""])[0]
    return redact(shown[:500], secrets)


def _error_text(error, secrets: list[str]) -> str:
    """`Class: message`; Dagster's messages start with the class (often its dotted path), said once."""
    head, sep, rest = error.message.partition(": ")
    message = rest if sep and head.split(".")[-1] == error.cls_name else error.message
    return f"{error.cls_name}: {_clean(message, secrets)}"


def run_error(instance, run_id: str, secrets: list[str]) -> str:
    """Why a run failed: its first failed step's error (the user's exception under Dagster's wrappers),
    else the first error the engine logged (e.g. the code server did not answer, the job did not load),
    else the run failure's own error or message."""
    from shopflow_assets.domains.operations.automation import root_cause

    step_error = engine_error = run_failure = None
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        error = getattr(event.event_specific_data, "error", None)
        if event.is_step_failure and error and not step_error:
            step_error = f"step {event.step_key}: {_error_text(root_cause(error), secrets)}"
        elif event.is_run_failure and not run_failure:
            run_failure = _error_text(error, secrets) if error else _clean(entry.message, secrets)
        elif error and not engine_error:
            engine_error = f"{_clean(entry.message, secrets)}: {_error_text(error, secrets)}"
    return step_error or engine_error or run_failure or "failed (no error recorded)"


def read_runs(instance, secrets: list[str]) -> list[RunOutcome]:
    import dagster as dg

    outcomes = []
    for run in instance.get_runs():
        error = None
        if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
            error = run_error(instance, run.run_id, secrets)
        outcomes.append(RunOutcome(run.run_id, run.job_name, run.status.value, launched_by(run.tags), error))
    return outcomes


def read_tick_errors(instance, secrets: list[str]) -> tuple[list[TickError], int]:
    """Every failed sensor or schedule tick, and the number of ticks in all."""
    from dagster._core.scheduler.instigation import TickStatus

    from shopflow_assets.domains.operations.automation import root_cause

    errors, ticks = [], 0
    for state in instance.all_instigator_state():
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id):
            ticks += 1
            if tick.status == TickStatus.FAILURE:
                message = root_cause(tick.error).message if tick.error else "failed (no error recorded)"
                errors.append(
                    TickError(
                        state.instigator_name, state.instigator_type.value.lower(), _clean(message, secrets)
                    )
                )
    return errors, ticks


FRESHNESS_CHECKS_QUERY = """
{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } } }
"""


def read_freshness(instance, port: int, secrets: list[str]) -> list[Freshness]:
    """The latest evaluation of every check of the loaded code location whose name contains "freshness"."""
    import dagster as dg
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    nodes = _graphql(port, FRESHNESS_CHECKS_QUERY)["assetNodes"]
    keys = sorted(
        (
            dg.AssetCheckKey(dg.AssetKey(node["assetKey"]["path"]), check["name"])
            for node in nodes
            for check in (node.get("assetChecksOrError") or {}).get("checks", [])
            if "freshness" in check["name"]
        ),
        key=lambda key: key.to_user_string(),
    )
    evaluated = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}
    results = []
    for key in keys:
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=1, status=evaluated)
        if not history or history[0].evaluation is None:
            results.append(Freshness(key.to_user_string(), NO_EVALUATION))
            continue
        evaluation = history[0].evaluation
        detail = evaluation.description or ", ".join(
            f"{name}={value.value}" for name, value in list(evaluation.metadata.items())[:4]
        )
        state = "passed" if evaluation.passed else "failed"
        results.append(Freshness(key.to_user_string(), state, _clean(detail, secrets)))
    return results


# --- the webserver ------------------------------------------------------------------------------------


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    import requests

    response = requests.post(
        f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}}, timeout=120
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL error: {body['errors'][0].get('message')}")
    return body["data"]


LOCATION_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def wait_for_code_location(port: int, dagster_dev: subprocess.Popen, timeout: float) -> None:
    """Until the webserver has loaded the code location; a load error ends the soak with its message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dagster_dev.poll() is not None:
            raise SoakError(f"dagster dev exited with code {dagster_dev.returncode} while starting")
        try:
            entries = _graphql(port, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        except (OSError, RuntimeError, KeyError, ValueError):
            entries = []
        for entry in entries:
            if entry["name"] == LOCATION and entry["loadStatus"] == "LOADED":
                location = entry["locationOrLoadError"] or {}
                if location.get("__typename") == "PythonError":
                    raise SoakError(f"the code location failed to load: {location.get('message', '')[:300]}")
                return
        time.sleep(3)
    raise SoakError(f"the code location was not loaded after {timeout:.0f} s")


def launch_batch_runs(port: int, day: dt.date) -> list[str]:
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=120)
    partitioned = {"ecommerce_daily_batch", "rainforest_medallion"}
    run_ids = []
    for job in BATCH_JOBS:
        tags = {SOAK_TAG: "launched"}
        if job in partitioned:
            tags["dagster/partition"] = day.isoformat()
        run_ids.append(client.submit_job_execution(job, repository_location_name=LOCATION, tags=tags))
    return run_ids


# --- processes ----------------------------------------------------------------------------------------


class SoakError(RuntimeError):
    """A reason the soak cannot run or go on, in one line."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_services() -> None:
    from shopflow_assets.devstack.stack import status

    down = [f"{service.name} ({service.address})" for service in status() if not service.healthy]
    if down:
        raise SoakError(f"not running: {', '.join(down)}; start them with `uv run shopflow services up`")


def soak_env(workdir: Path) -> dict[str, str]:
    """The user's environment on the stack, with automation on and the soak's own instance and files."""
    env = {
        **os.environ,
        "SHOPFLOW_ENV": "docker",
        "SHOPFLOW_AUTOMATION": "on",
        "DAGSTER_HOME": str(workdir / "dagster"),
        "SHOPFLOW_DUCKDB_PATH": str(workdir / "warehouse.duckdb"),
        "SHOPFLOW_SHOP_LANDING_DIR": str(workdir / "incoming" / "shop"),
        "SHOPFLOW_OLIST_CSV_DIR": str(workdir / "incoming" / "olist"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("SPARK_REMOTE", None)  # runs attach to the stack's warm driver
    return env


def prepare_instance(workdir: Path) -> None:
    """A fresh DAGSTER_HOME with the project's instance settings, as `make dev` makes one."""
    home = workdir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_bytes(
        (PROJECT_ROOT / "shopflow_assets" / "dagster_instance.yaml").read_bytes()
    )


def run_step(argv: list[str], env: dict[str, str], log: Path, allowed_failure: str | None = None) -> None:
    """Run one set-up command, its output to `log`; fail in one line (its last stderr line) unless the
    failure is the expected, harmless one (e.g. a rainforest day already in the app database)."""
    with log.open("ab") as out:
        result = subprocess.run(argv, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.PIPE)
        out.write(result.stderr)
    stderr = result.stderr.decode(errors="replace")
    if result.returncode != 0 and not (allowed_failure and allowed_failure in stderr):
        last = (stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SoakError(
            f"`{' '.join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))}` failed: {last}"
        )


def prepare_inputs(day: dt.date, env: dict[str, str], logs: Path) -> None:
    """The batch jobs' inputs: a shop day in the landing folder, that day in the rainforest app database,
    Olist CSVs sent to the raw_* topics (the Olist job reads the topics and the CSV folder); and the ERP
    source the simulator changes."""
    shopflow, log = str(BIN / "shopflow"), logs / "prepare.log"
    run_step([shopflow, "dbt-prepare"], env, log)  # as `make dev` does before `dagster dev`
    run_step([shopflow, "generate", "shop", "--date", day.isoformat(), "--orders", "2000"], env, log)
    run_step(
        [shopflow, "generate", "rainforest", "--date", day.isoformat(), "--orders-per-day", "2000"],
        env,
        log,
        allowed_failure="already holds orders",
    )
    # The ERP simulator changes the totesys source: it needs its tables and a history (kept when present).
    run_step([shopflow, "generate", "erp", "--scale", "0.1"], env, log, allowed_failure="already holds data")
    run_step([shopflow, "generate", "olist", "--scale", "0.002"], env, log)
    run_step([shopflow, "produce", "olist", "--rate", "max", "--no-progress"], env, log)


def generator_commands(seconds: int) -> dict[str, list[str]]:
    shopflow, duration = str(BIN / "shopflow"), str(seconds)
    return {
        "clicks": [shopflow, "produce", "clicks", "--rate", "200", "--duration", duration, "--no-progress"],
        "actions": [
            shopflow,
            "produce",
            "actions",
            "--rate",
            "1000",
            "--duration",
            duration,
            "--no-progress",
        ],
        "erp": [shopflow, "simulate", "erp", "--changes-per-minute", "30", "--duration", duration],
    }


def start(argv: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    """A child in its own process group (Ctrl-C reaches only the soak, which stops the group itself)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen, grace: float = 60) -> None:
    """SIGTERM to the child's whole group (dagster dev takes its webserver, daemon, code server and run
    workers down with it), SIGKILL for what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(process.pid):
            process.poll()  # reaps the leader: a zombie would keep the group "alive"
            time.sleep(0.5)
        if not _group_alive(process.pid):
            break
    process.poll()


def stop_all(processes: list[subprocess.Popen]) -> None:
    """Stop every child, not to be interrupted half-way: a second Ctrl-C (or `uv run` passing the first one
    on again) raised inside `stop` and left dagster dev and the generators running in a soak here."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            stop(process)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


# --- the soak -----------------------------------------------------------------------------------------


def soak(minutes: float, port: int, workdir: Path) -> int:
    require_services()
    os.environ.update(soak_env(workdir))  # this process reads the same instance and settings
    from shopflow_assets.settings import reload_settings

    reload_settings()
    secrets = _secrets()
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    prepare_instance(workdir)
    env = soak_env(workdir)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    print(
        f"soak: {minutes:g} min on the running services; work directory {workdir} (logs in {logs})",
        flush=True,
    )
    print("  preparing inputs (dbt-prepare, shop and rainforest day, Olist to Kafka)", flush=True)
    prepare_inputs(day, env, logs)

    children: dict[str, subprocess.Popen] = {}
    memory = PeakMemory(interval=2.0)
    memory.start()
    started = time.monotonic()
    try:
        # cwd: the work directory, so no .env of the checkout overrides the soak's settings (the dagster
        # CLI loads the .env of its working directory over the environment).
        children["dagster dev"] = start(
            [
                str(BIN / "dagster"),
                "dev",
                "-w",
                str(PROJECT_ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env,
            logs / "dagster-dev.log",
            workdir,
        )
        print(f"  dagster dev on http://127.0.0.1:{port} (DAGSTER_HOME {workdir / 'dagster'})", flush=True)
        for name, argv in generator_commands(int(minutes * 60)).items():
            children[name] = start(argv, env, logs / f"{name}.log", workdir)
        wait_for_code_location(port, children["dagster dev"], timeout=600)
        run_ids = launch_batch_runs(port, day)
        print(
            f"  launched {', '.join(BATCH_JOBS)} (partition {day}): {', '.join(r[:8] for r in run_ids)}",
            flush=True,
        )

        import dagster as dg

        instance = dg.DagsterInstance.get()
        deadline = started + minutes * 60
        next_line = started + 60
        while time.monotonic() < deadline:
            if children["dagster dev"].poll() is not None:
                raise SoakError(f"dagster dev exited with code {children['dagster dev'].returncode}")
            time.sleep(min(5, max(0, deadline - time.monotonic())))
            if time.monotonic() >= next_line:
                # The next whole minute: a slow start (the code location loads) prints no backlog.
                next_line = started + 60 * ((time.monotonic() - started) // 60 + 1)
                summary = summarize_runs(read_runs(instance, secrets))
                tick_errors, _ = read_tick_errors(instance, secrets)
                print(progress_line(time.monotonic() - started, summary, len(tick_errors)), flush=True)

        runs = read_runs(instance, secrets)
        tick_errors, ticks = read_tick_errors(instance, secrets)
        freshness = read_freshness(instance, port, secrets)
        generators = {name: child.poll() for name, child in children.items() if name != "dagster dev"}
    finally:
        stop_all(list(reversed(children.values())))
        peak = memory.stop()

    summary = summarize_runs(runs)
    misses = target_misses(summary, tick_errors, freshness)
    misses += [
        f"generator {name} exited with code {code} (see {logs / (name + '.log')})"
        for name, code in generators.items()
        if code not in (None, 0)
    ]
    print(
        f"== soak: {summary.started} runs started, {summary.succeeded} succeeded, {summary.failed} failed, "
        f"{summary.in_progress} still in progress at the end"
    )
    for job, counts in sorted(summary.by_job.items()):
        print(f"  {job}: {counts}")
    for run in summary.failures:
        print(f"  FAILED {run.job} ({run.launched_by}) {run.run_id[:8]}: {run.error}")
    print(f"  ticks: {ticks}, errors: {len(tick_errors)}")
    for tick in tick_errors:
        print(f"  TICK ERROR {tick.kind} {tick.instigator}: {tick.error}")
    for check in freshness:
        print(f"  freshness {check.check}: {check.state}" + (f" ({check.detail})" if check.detail else ""))
    figures = [
        Figure("minutes", minutes, "min"),
        Figure("runs started", summary.started, "runs"),
        Figure("runs succeeded", summary.succeeded, "runs"),
        Figure("runs failed", summary.failed, "runs", target=0),
        Figure("tick errors", len(tick_errors), "errors", target=0),
        Figure(
            "freshness checks not passing",
            sum(check.state != "passed" for check in freshness),
            "checks",
            target=0,
        ),
        Figure("peak RSS of the process tree", peak / 2**20, "MiB"),
    ]
    record(
        "soak",
        figures,
        workdir=str(workdir),
        partition=day.isoformat(),
        by_job=summary.by_job,
        runs=[asdict(run) for run in runs],
        tick_errors=[asdict(tick) for tick in tick_errors],
        ticks=ticks,
        freshness=[asdict(check) for check in freshness],
        generators_exit_codes=generators,
        target_missed=misses,
    )
    if misses:
        print("soak: target NOT met:")
        for miss in misses:
            print(f"  - {miss}")
        return 1
    print("soak: target met (0 failed runs, 0 tick errors, every freshness check passing)")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30, help="length of the soak (default 30)")
    parser.add_argument("--port", type=int, default=None, help="dagster dev's port (default: a free one)")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temporary directory")
    args = parser.parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="shopflow-soak-"))).resolve()
    # SIGTERM ends the soak like Ctrl-C does: through the `finally` that stops its children.
    signal.signal(signal.SIGTERM, _interrupt)
    # Ctrl-C too, even when the shell started the soak with SIGINT ignored (a background job does).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return soak(args.minutes, args.port or free_port(), workdir)
    except SoakError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soak: interrupted; everything it started is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
