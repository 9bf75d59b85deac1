"""The whole lifecycle on an isolated stack (temporary SHOPFLOW_HOME, free ports), through the CLI.

up -> a second up is fast and restarts nothing -> down leaves no process -> status says stopped, and a
stopped service's health check names the service and its address. The shared stack is left alone.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from shopflow_assets import devstack
from shopflow_assets.devstack.minio import s3_client
from shopflow_assets.devstack.process import is_running, owned_pid, processes_in
from shopflow_assets.settings import Settings
from shopflow_assets_tests.support.isolated_stack import isolated_stack

pytestmark = pytest.mark.stack


def _stack_pids(shared: Settings) -> dict[str, int | None]:
    return {
        name: owned_pid(service.pid_file(shared), shared.services_dir)
        for name, service in devstack.SERVICES.items()
    }


@pytest.fixture
def isolated():
    """An empty isolated stack (support/isolated_stack.py): the test starts and stops it through the CLI."""
    with isolated_stack(prefix="shopflow-lifecycle-") as stack:
        yield stack


@pytest.fixture
def isolated_env(isolated):
    """What the isolated stack set in the environment: its SHOPFLOW_HOME and every service's address."""
    return isolated.env


@pytest.fixture
def shared_settings(isolated):
    """The shared stack's settings, read before the isolated environment was set up."""
    return isolated.shared


def _shopflow(*args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "shopflow_assets.cli", "services", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def test_lifecycle_on_an_isolated_stack(isolated_env, shared_settings):
    assert shared_settings.home != Path(isolated_env["SHOPFLOW_HOME"])
    shared_before = _stack_pids(shared_settings)
    home = Path(isolated_env["SHOPFLOW_HOME"])

    code, output, first_seconds = _shopflow("up")
    assert code == 0, output
    settings = Settings(_env_file=str(home / "generated.env"))
    assert settings.services_dir == home / "services"
    statuses = devstack.status(settings=settings)
    assert [(item.name, item.state) for item in statuses] == [
        ("kafka", "running"),
        ("spark-connect", "running"),
        ("minio", "running"),
        ("postgres", "running"),
    ]
    addresses = {item.name: item.address for item in statuses}
    assert addresses["kafka"] == isolated_env["KAFKA_BOOTSTRAP_SERVERS"]
    assert addresses["spark-connect"] == f"sc://127.0.0.1:{isolated_env['SPARK_CONNECT_PORT']}"
    assert addresses["minio"] == isolated_env["S3_ENDPOINT_URL"]
    assert addresses["postgres"] == f"127.0.0.1:{isolated_env['POSTGRES_PORT']}"
    pids = {item.name: item.pid for item in statuses}
    credentials = (home / "generated.env").read_text()
    assert devstack.ensure_buckets(settings) == []  # `up` created all six already
    # Data written now must survive the restart at the end.
    s3_client(settings).put_object(Bucket="raw-data", Key="kept.txt", Body=b"kept")
    with _postgres(settings) as conn:
        conn.execute("create table kept (id int)")
        conn.execute("insert into kept values (42)")

    code, output, second_seconds = _shopflow("up")
    assert code == 0, output
    assert output.count("already running") == 4, output
    assert "until ready" not in output and "initdb" not in output and "format" not in output
    assert {item.name: item.pid for item in devstack.status(settings=settings)} == pids
    assert (home / "generated.env").read_text() == credentials
    assert second_seconds < first_seconds, (first_seconds, second_seconds)

    # A service that died (kill -9) shows as stopped, and `up` restarts that one only.
    os.kill(pids["minio"], signal.SIGKILL)
    _wait_until(lambda: not is_running(pids["minio"]))
    states = {item.name: item.state for item in devstack.status(settings=settings)}
    assert states == {
        "kafka": "running",
        "spark-connect": "running",
        "minio": "stopped",
        "postgres": "running",
    }
    code, output, _ = _shopflow("up")
    assert code == 0, output
    assert output.count("already running") == 3, output
    restarted = {item.name: item.pid for item in devstack.status(settings=settings)}
    for name in ("kafka", "spark-connect", "postgres"):
        assert restarted[name] == pids[name], name
    assert restarted["minio"] != pids["minio"]
    pids = restarted

    code, output, _ = _shopflow("down")
    assert code == 0, output
    for name, service in devstack.SERVICES.items():
        assert not service.pid_file(settings).exists()
        assert not is_running(pids[name]), name
    assert processes_in(settings.services_dir) == []

    code, output, _ = _shopflow("status")
    assert code == 1
    assert output.count("stopped") == 4, output
    for name, title, address in [
        ("kafka", "Kafka", isolated_env["KAFKA_BOOTSTRAP_SERVERS"]),
        ("minio", "MinIO", isolated_env["S3_ENDPOINT_URL"].removeprefix("http://")),
        ("postgres", "PostgreSQL", f"127.0.0.1:{isolated_env['POSTGRES_PORT']}"),
    ]:
        with pytest.raises(devstack.ServiceUnavailableError) as excinfo:
            devstack.require_healthy(name, settings)
        assert str(excinfo.value).startswith(f"{title} is not reachable at {address}")

    # A restart keeps the data and the generated credentials.
    code, output, restart_seconds = _shopflow("up")
    assert code == 0, output
    assert (home / "generated.env").read_text() == credentials
    assert s3_client(settings).get_object(Bucket="raw-data", Key="kept.txt")["Body"].read() == b"kept"
    with _postgres(settings) as conn:
        assert conn.execute("select id from kept").fetchall() == [(42,)]
    code, output, _ = _shopflow("down")
    assert code == 0, output
    assert processes_in(settings.services_dir) == []

    # The shared stack other tests use was not touched.
    assert _stack_pids(shared_settings) == shared_before
    print(
        f"\nisolated stack: first up {first_seconds:.1f}s, second up {second_seconds:.1f}s, "
        f"restart {restart_seconds:.1f}s"
    )


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def _postgres(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=settings.postgres_user,
        password=settings.secret("postgres_password"),
        autocommit=True,
        connect_timeout=5,
    )
