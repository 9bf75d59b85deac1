"""The native service stack as a whole: up, down, status and reset, for the CLI, tests and benchmarks."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from shopflow_assets.devstack.base import DevstackError, NativeService, Reporter
from shopflow_assets.devstack.credentials import ensure_credentials, generated_env_path
from shopflow_assets.devstack.health import ServiceUnavailableError, port_open
from shopflow_assets.devstack.kafka import KafkaService
from shopflow_assets.devstack.minio import MinioService
from shopflow_assets.devstack.postgres import PostgresService
from shopflow_assets.devstack.process import (
    file_lock,
    is_running,
    owned_pid,
    pids_listening,
    read_cmdline,
    read_pid,
    session_members,
    spawn,
    stop,
    tail,
)
from shopflow_assets.devstack.spark_connect import SparkConnectService
from shopflow_assets.settings import Settings, get_settings, private_dir

# Start order: the JVMs first, so that they warm up while the others start.
SERVICES: dict[str, NativeService] = {
    service.name: service
    for service in (KafkaService(), SparkConnectService(), MinioService(), PostgresService())
}

RUNNING, UNHEALTHY, STOPPED, EXTERNAL = "running", "unhealthy", "stopped", "external"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running | unhealthy (ours, not answering) | stopped | external (answers, not ours)
    address: str
    pid: int | None
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state in (RUNNING, EXTERNAL)


def select(names: Iterable[str] | None) -> list[NativeService]:
    """Services by name in start order; all of them for None or an empty list."""
    names = list(names or [])
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        raise DevstackError(f"unknown service {', '.join(unknown)}: choose from {', '.join(SERVICES)}")
    return [service for name, service in SERVICES.items() if not names or name in names]


def service_status(service: NativeService, settings: Settings) -> ServiceStatus:
    pid = owned_pid(service.pid_file(settings), settings.services_dir)
    try:
        service.check(settings, timeout=2.0)
        healthy, detail = True, service.status_note(settings)
    except ServiceUnavailableError as exc:
        healthy, detail = False, str(exc)
    except RuntimeError as exc:  # e.g. a credential that is not set yet
        healthy, detail = False, f"{service.title}: {exc}"
    if pid is not None:
        state = RUNNING if healthy else UNHEALTHY
    else:
        state = EXTERNAL if healthy else STOPPED
        if healthy:
            detail = f"answers, but was not started by this stack ({settings.services_dir})"
    return ServiceStatus(service.name, state, service.address(settings), pid, detail)


def status(names: Iterable[str] | None = None, settings: Settings | None = None) -> list[ServiceStatus]:
    settings = settings or get_settings()
    return [service_status(service, settings) for service in select(names)]


def require_healthy(name: str, settings: Settings | None = None) -> None:
    """Raise ServiceUnavailableError (naming the service and its address) unless `name` answers."""
    settings = settings or get_settings()
    select([name])[0].check(settings)


def _describe_port(host: str, port: int) -> str:
    owners = [f"pid {pid}: {' '.join(read_cmdline(pid))[:60]}" for pid in sorted(pids_listening(port))]
    return f"{host}:{port}" + (f" ({'; '.join(owners)})" if owners else "")


def _start_failed(service: NativeService, settings: Settings, pid: int) -> DevstackError | None:
    """Why a just-spawned service is not coming up (it exited, or it is too slow), else None."""
    if not is_running(pid):
        service.pid_file(settings).unlink(missing_ok=True)
        log = service.log_file(settings)
        lines = "\n    ".join(tail(log, 15))
        return DevstackError(f"{service.title} exited while starting; end of {log}:\n    {lines}")
    return None


def _wait_ready(
    services: list[NativeService], settings: Settings, pids: dict[str, int], since: float, reporter: Reporter
) -> None:
    """Poll every starting service until ready, reporting each one's own start time."""
    waiting = list(services)
    while waiting:
        for service in list(waiting):
            pid = pids[service.name]
            if service.ready(settings):
                reporter.record(service.name, f"start (pid {pid}) until ready", time.monotonic() - since)
                waiting.remove(service)
                continue
            error = _start_failed(service, settings, pid)
            if error is None and time.monotonic() - since > service.start_timeout:
                stop(pid, service.stop_signal, service.stop_timeout)
                service.pid_file(settings).unlink(missing_ok=True)
                error = DevstackError(
                    f"{service.title} did not become ready at {service.address(settings)} within "
                    f"{service.start_timeout:.0f}s; it was stopped. See {service.log_file(settings)}"
                )
            if error is not None:
                raise error
        if waiting:
            time.sleep(0.2)


def up(
    names: Iterable[str] | None = None, settings: Settings | None = None, reporter: Reporter | None = None
) -> list[ServiceStatus]:
    """Start the services that are not running (all by default); fast and harmless when they are."""
    return start_services(select(names), settings, reporter)


def start_services(
    services: list[NativeService], settings: Settings | None = None, reporter: Reporter | None = None
) -> list[ServiceStatus]:
    """`up` for any list of services, in order (also those outside SERVICES, e.g. a Spark cluster)."""
    reporter = reporter or Reporter()
    settings, generated = ensure_credentials(settings or get_settings())
    if generated:
        reporter.say("settings", f"generated {', '.join(generated)} into {generated_env_path(settings)}")
    private_dir(settings.services_dir)  # service data and credentials: this user's only
    private_dir(settings.logs_dir)
    # Two `up`s at once (two terminals, parallel test sessions) take turns instead of racing for ports.
    with file_lock(_stack_lock(settings)):
        return _up_locked(services, settings, reporter)


def _stack_lock(settings: Settings) -> Path:
    return settings.services_dir / ".stack.lock"


def _up_locked(services: list[NativeService], settings: Settings, reporter: Reporter) -> list[ServiceStatus]:
    to_start: list[NativeService] = []
    for service in services:
        pid = owned_pid(service.pid_file(settings), settings.services_dir)
        if pid is not None:
            if not service.ready(settings):  # started a moment ago by someone else, or stuck
                _wait_ready([service], settings, {service.name: pid}, time.monotonic(), reporter)
            reporter.say(service.name, f"already running (pid {pid}) at {service.address(settings)}")
            continue
        busy = [(host, port) for host, port in service.ports(settings) if port_open(host, port, timeout=0.3)]
        if busy:
            where = ", ".join(" ".join(_describe_port(host, port).split()) for host, port in busy)
            raise DevstackError(
                f"{service.title} cannot start: {where} is already in use, not by this stack "
                f"({settings.services_dir}). Stop that process or choose other ports in .env."
            )
        service.prepare(settings, reporter)
        to_start.append(service)

    # Start everything first and wait afterwards, so the services boot in parallel.
    pids = {}
    spawned_at = time.monotonic()
    for service in to_start:
        pids[service.name] = spawn(
            service.launch_spec(settings), service.log_file(settings), service.pid_file(settings)
        )
    if to_start:
        with reporter.phase("stack", f"waiting for {', '.join(s.name for s in to_start)}"):
            _wait_ready(to_start, settings, pids, spawned_at, reporter)

    for service in services:
        service.after_start(settings, reporter)
        service.check(settings)
    return [service_status(service, settings) for service in services]


def down(
    names: Iterable[str] | None = None, settings: Settings | None = None, reporter: Reporter | None = None
) -> dict[str, str]:
    """Stop the services (all by default) and any leftover process of theirs. Returns name -> outcome."""
    return stop_services(select(names), settings, reporter)


def stop_services(
    services: list[NativeService], settings: Settings | None = None, reporter: Reporter | None = None
) -> dict[str, str]:
    """`down` for any list of services, in reverse order."""
    reporter = reporter or Reporter()
    settings = settings or get_settings()
    if not settings.services_dir.exists():
        return {service.name: "not running" for service in services}
    with file_lock(_stack_lock(settings)):
        return _down_locked(services, settings, reporter)


def _down_locked(services: list[NativeService], settings: Settings, reporter: Reporter) -> dict[str, str]:
    outcomes = {}
    for service in reversed(services):
        recorded = read_pid(service.pid_file(settings))
        pid = owned_pid(service.pid_file(settings), settings.services_dir)
        # The session of the process we started, unless its pid now belongs to another program (a pid
        # that leads live session members is never reused, so a dead leader's session is still ours).
        ours = recorded if recorded is not None and (pid is not None or not is_running(recorded)) else None
        if pid is None:
            outcome = "not running"
        else:
            with reporter.phase(service.name, f"stop pid {pid}"):
                outcome = stop(pid, service.stop_signal, service.stop_timeout)
        service.pid_file(settings).unlink(missing_ok=True)
        # What that process started and left running (a child of a killed parent); never a process that
        # merely names the service's directory: that may be a user's shell, editor or backup.
        for leftover, cmdline in session_members(ours) if ours is not None else []:
            how = stop(leftover, service.stop_signal, 10.0)
            reporter.say(service.name, f"{how} leftover pid {leftover}: {' '.join(cmdline)[:80]}")
            outcome += f", leftover pid {leftover} {how}"
        outcomes[service.name] = outcome
        if pid is None:
            reporter.say(service.name, outcome)
    return outcomes


@dataclass(frozen=True)
class ResetDecision:
    allowed: bool
    reason: str = ""  # why resetting these alone leaves a flow pointing at lost state; empty when it does not
    then_run: tuple[str, ...] = ()  # the commands that make the flows consistent again after a forced reset


# Service whose data another service's kept state depends on -> (that service, why, what rebuilds it).
_DEPENDENT_STATE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "minio": (
        "postgres",
        "the ERP state in PostgreSQL (warehouse.erp_state) names raw and processed objects in MinIO; every "
        "later ERP run would stop on the missing objects",
        ("shopflow services up", "shopflow erp resync"),
    ),
    "postgres": (
        "minio",
        "MinIO keeps the ERP objects extracted from totesys, which goes with PostgreSQL, and the ERP state "
        "saying which of them the warehouse holds goes too; a plain ERP run would fold the old objects in",
        ("shopflow services up", "shopflow generate erp", "shopflow erp resync"),
    ),
}


def reset_decision(names: Iterable[str] | None, force: bool = False) -> ResetDecision:
    """May these services be reset alone? Refused while another kept service holds state depending on one
    of them (unless forced: then the reason and the resync to run are given). No I/O: unit-tested."""
    chosen = {service.name for service in select(names)}
    conflicts = [
        (name, *_DEPENDENT_STATE[name]) for name in SERVICES if name in chosen and name in _DEPENDENT_STATE
    ]
    conflicts = [c for c in conflicts if c[1] not in chosen]
    if not conflicts:
        return ResetDecision(allowed=True)
    reason = "; ".join(f"resetting {name} without {other}: {why}" for name, other, why, _ in conflicts)
    then_run = tuple(dict.fromkeys(command for *_, commands in conflicts for command in commands))
    return ResetDecision(allowed=force, reason=reason, then_run=then_run)


def reset(
    names: Iterable[str] | None = None, settings: Settings | None = None, reporter: Reporter | None = None
) -> list[str]:
    """Stop the services and delete their data (topics, buckets, databases). Credentials are kept."""
    reporter = reporter or Reporter()
    settings = settings or get_settings()
    down(names, settings, reporter)
    removed = []
    for service in select(names):
        data_dir = service.data_dir(settings)
        if data_dir.exists():
            shutil.rmtree(data_dir)
            removed.append(str(data_dir))
            reporter.say(service.name, f"deleted {data_dir}")
    return removed
