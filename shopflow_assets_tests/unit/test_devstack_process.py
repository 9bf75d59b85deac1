"""Detached processes, pid files, the /proc scan `down` relies on, and status of a stack that is not running."""

import os
import signal
import socket
import sys
import time

import pytest

from shopflow_assets.cli import main
from shopflow_assets.devstack.health import ServiceUnavailableError
from shopflow_assets.devstack.process import (
    LaunchSpec,
    is_running,
    owned_pid,
    pids_listening,
    points_into,
    processes_in,
    read_cmdline,
    rotate_if_large,
    spawn,
    stop,
    tail,
)
from shopflow_assets.devstack.stack import STOPPED, require_healthy, status
from shopflow_assets.settings import Settings, reload_settings

pytestmark = pytest.mark.unit

SLEEPER = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN if 'stubborn' in sys.argv else signal.SIG_DFL); print('handler-set'.upper(), flush=True); time.sleep(120)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sleeper(directory, *extra) -> LaunchSpec:
    # The marker argument points into `directory`, as every real service's command line does.
    return LaunchSpec(argv=[sys.executable, "-c", SLEEPER, str(directory / "marker"), *extra])


def test_points_into_matches_paths_inside_the_directory_only(tmp_path):
    services = tmp_path / "services"
    assert points_into(["java", f"{services}/kafka/server.properties"], services)
    assert points_into(["minio", "server", f"--dir={services}/minio"], services)
    assert not points_into(["java", f"{tmp_path}/services2/kafka"], services)
    assert not points_into(["postgres: shopflow idle"], services)


def test_spawned_process_is_owned_found_and_stopped(tmp_path):
    pid_file, log_file = tmp_path / "svc.pid", tmp_path / "logs" / "svc.log"
    pid = spawn(_sleeper(tmp_path), log_file, pid_file)
    # Signal only once the child has set SIGTERM to its default action: a child that inherited an ignored
    # SIGTERM from the test runner would otherwise drop a signal that arrives during interpreter start-up.
    _wait_for_handler(log_file)
    try:
        assert owned_pid(pid_file, tmp_path) == pid
        # Not ours when judged against another stack's directory.
        assert owned_pid(pid_file, tmp_path / "elsewhere") is None
        assert pid in [found for found, _ in processes_in(tmp_path)]
        assert os.getsid(pid) == pid  # detached: its own session, so it outlives the CLI
    finally:
        assert stop(pid, signal.SIGTERM, timeout=10) == "stopped"
    assert not is_running(pid)
    assert owned_pid(pid_file, tmp_path) is None
    assert processes_in(tmp_path) == []
    assert "starting:" in log_file.read_text()


def _wait_for_handler(log_file, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while "HANDLER-SET" not in log_file.read_text():
        assert time.monotonic() < deadline, f"the test process never started: {log_file.read_text()}"
        time.sleep(0.05)


def test_a_process_ignoring_sigterm_is_killed(tmp_path):
    pid = spawn(_sleeper(tmp_path, "stubborn"), tmp_path / "svc.log", tmp_path / "svc.pid")
    # Wait until it has installed its handler, or SIGTERM might arrive first.
    _wait_for_handler(tmp_path / "svc.log")
    assert stop(pid, signal.SIGTERM, timeout=0.5) == "killed"
    assert not is_running(pid)


def test_stale_pid_file_is_not_trusted(tmp_path):
    pid_file = tmp_path / "svc.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # a live process, but not one running out of tmp_path
    assert owned_pid(pid_file, tmp_path) is None
    pid_file.write_text("not a pid\n")
    assert owned_pid(pid_file, tmp_path) is None


def test_pids_listening_finds_the_owner_of_a_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert os.getpid() in pids_listening(server.getsockname()[1])


def test_tail_returns_the_last_lines(tmp_path):
    log = tmp_path / "big.log"
    log.write_text("".join(f"line {i}\n" for i in range(20000)))
    assert tail(log, 3) == ["line 19997", "line 19998", "line 19999"]
    assert tail(tmp_path / "missing.log", 3) == []


def test_large_logs_are_rotated_once(tmp_path):
    log = tmp_path / "svc.log"
    log.write_text("x" * 100)
    assert not rotate_if_large(log, limit=1000)
    assert rotate_if_large(log, limit=10)
    assert not log.exists() and (tmp_path / "svc.log.1").read_text() == "x" * 100


@pytest.fixture
def settings_cache():
    yield
    # Runs after monkeypatch restored the environment (fixtures tear down in reverse order), so the
    # cached settings other tests see are the real ones again, not this test's stopped stack.
    reload_settings()


@pytest.fixture
def stopped_stack(settings_cache, tmp_path, monkeypatch):
    """Settings of a stack on free ports where nothing runs (also what get_settings() returns meanwhile)."""
    env = {
        "SHOPFLOW_HOME": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_free_port()}",
        "KAFKA_CONTROLLER_PORT": str(_free_port()),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}",
        "MINIO_CONSOLE_ADDRESS": f"127.0.0.1:{_free_port()}",
        "POSTGRES_PORT": str(_free_port()),
        "SPARK_CONNECT_PORT": str(_free_port()),
        "POSTGRES_PASSWORD": "unused",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reload_settings()
    return Settings(_env_file=None)


def test_status_of_a_stopped_stack_names_each_service_and_address(stopped_stack):
    statuses = status(settings=stopped_stack)
    assert [item.state for item in statuses] == [STOPPED] * 4
    kafka, spark_connect, minio, postgres = statuses
    assert kafka.detail.startswith(f"Kafka is not reachable at {stopped_stack.kafka_bootstrap_servers}")
    assert spark_connect.detail == (
        f"Spark Connect server is not reachable at sc://127.0.0.1:{stopped_stack.spark_connect_port}: "
        "nothing listens on that port: start it with `shopflow services up spark-connect`"
    )
    assert minio.detail.startswith(f"MinIO is not reachable at {stopped_stack.s3_host_port}")
    assert postgres.detail.startswith(
        f"PostgreSQL is not reachable at 127.0.0.1:{stopped_stack.postgres_port}"
    )
    assert all(item.pid is None and not item.healthy for item in statuses)


def test_require_healthy_raises_a_clear_error(stopped_stack):
    with pytest.raises(ServiceUnavailableError) as excinfo:
        require_healthy("kafka", stopped_stack)
    assert excinfo.value.service == "Kafka"
    assert excinfo.value.address == stopped_stack.kafka_bootstrap_servers


def test_cli_status_exits_non_zero_when_stopped(stopped_stack, capsys):
    assert main(["services", "status"]) == 1
    out = capsys.readouterr().out
    assert out.count("stopped") == 4


def test_cli_rejects_unknown_service(stopped_stack, capsys):
    assert main(["services", "down", "redis"]) == 1
    assert "unknown service redis" in capsys.readouterr().err


def test_reporter_prints_each_phase_with_its_time_and_keeps_it():
    import io

    from rich.console import Console

    from shopflow_assets.devstack.base import Reporter

    out = io.StringIO()
    reporter = Reporter(console=Console(file=out, force_terminal=False, width=120))
    with reporter.phase("minio", "build minio from source", announce=True) as update:
        update("compiling")  # no spinner outside a terminal: must not fail
    with reporter.phase("kafka", "format KRaft storage", started=time.monotonic() - 2.0):
        pass
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["minio", "build", "minio", "from", "source", "..."]
    assert lines[1].split()[:5] == ["minio", "build", "minio", "from", "source"]
    assert lines[2].split()[:4] == ["kafka", "format", "KRaft", "storage"]
    assert [(service, what) for service, what, _ in reporter.timings] == [
        ("minio", "build minio from source"),
        ("kafka", "format KRaft storage"),
    ]
    assert reporter.timings[1][2] >= 2.0
    assert lines[2].endswith("s") and float(lines[2].split()[-1].rstrip("s")) >= 2.0


def test_a_service_spawned_from_a_runner_that_ignores_sigterm_still_stops_on_sigterm(tmp_path):
    # CI runners and nohup'd shells may ignore SIGTERM; an ignored disposition survives exec, so the service
    # would never see `down`'s SIGTERM (a JVM then installs no shutdown handler either).
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        pid = spawn(LaunchSpec(argv=["sleep", "120"]), tmp_path / "svc.log", tmp_path / "svc.pid")
    finally:
        signal.signal(signal.SIGTERM, previous)
    deadline = time.monotonic() + 30
    while read_cmdline(pid)[:1] != ["sleep"]:  # env hands over to the service with exec
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert stop(pid, signal.SIGTERM, timeout=10) == "stopped"
