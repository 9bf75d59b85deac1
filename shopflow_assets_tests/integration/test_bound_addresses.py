"""Every port the project opens natively listens on loopback only (read from /proc/net/tcp and tcp6).

Covered here: the native stack (Kafka, MinIO, PostgreSQL, the Spark Connect server) as it runs, a
Spark standalone cluster (master, a worker, the history server) and a Spark Connect server started on free
ports under a temporary SHOPFLOW_HOME, a run's local Spark driver, and the Dagster webserver started as
`make dev` starts it. Superset and Airflow live in
their own environments (`dashboard/.venv`, `airflow/.venv`), which this test does not install.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess  # nosec B404 # starts dagster dev as `make dev` does
import sys
import time
from pathlib import Path

import pytest

from shopflow_assets.devstack import spark_cluster, stack
from shopflow_assets.devstack.process import owned_pid, session_members
from shopflow_assets.settings import PROJECT_ROOT, Settings, reload_settings

pytestmark = pytest.mark.slow

LOOPBACK = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}


def _address(hex_address: str) -> tuple[ipaddress._BaseAddress, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ipaddress.ip_address(raw[::-1])
    else:  # four little-endian 32-bit words
        ip = ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        ip = ip.ipv4_mapped or ip
    return ip, int(port, 16)


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket any of `pids` holds."""
    inodes = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir() if fd_dir.exists() else ():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A = LISTEN
                ip, port = _address(parts[1])
                found.add((str(ip), port))
    return found


def _tree(pid: int) -> set[int]:
    """The process and what is left in the session it leads (services run in sessions of their own)."""
    return {pid, *(member for member, _ in session_members(pid))}


def _assert_loopback(name: str, sockets: set[tuple[str, int]]) -> None:
    assert sockets, f"{name} listens on nothing"
    exposed = sorted(s for s in sockets if ipaddress.ip_address(s[0]) not in LOOPBACK)
    assert not exposed, f"{name} listens beyond loopback: {exposed}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_native_stack_listens_on_loopback_only():
    settings = reload_settings()
    for name, service in stack.SERVICES.items():
        pid = owned_pid(service.pid_file(settings), settings.services_dir)
        assert pid is not None, f"{name} is not running: start the stack with `shopflow services up`"
        _assert_loopback(name, listening(_tree(pid)))


@pytest.fixture
def cluster_settings(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("bound_home")
    env = {
        "SHOPFLOW_HOME": str(home),
        "SPARK_STANDALONE_PORT": str(_free_port()),
        "SPARK_MASTER_WEBUI_PORT": str(_free_port()),
        "SPARK_HISTORY_PORT": str(_free_port()),
        "SPARK_WORKER_CORES": "1",
        "SPARK_WORKER_MEMORY": "512m",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reload_settings()
    yield Settings(_env_file=None)
    monkeypatch.undo()
    reload_settings()


def test_the_spark_cluster_listens_on_loopback_only_and_cannot_kill_from_its_ui(cluster_settings):
    services = spark_cluster.cluster_services(1)
    try:
        stack.start_services(services, cluster_settings)
        for service in services:
            pid = owned_pid(service.pid_file(cluster_settings), cluster_settings.services_dir)
            assert pid is not None, service.name
            sockets = listening(_tree(pid))
            _assert_loopback(service.name, sockets)
            # The web UIs are the ones that used to bind every interface.
            for port in (cluster_settings.spark_master_webui_port, cluster_settings.spark_history_port):
                for address, bound in sockets:
                    assert bound != port or address == "127.0.0.1"
        master = services[0]
        properties = master.properties_file(cluster_settings).read_text().splitlines()
        assert "spark.ui.killEnabled false" in properties
    finally:
        stack.stop_services(services, cluster_settings)


def test_a_local_spark_driver_listens_on_loopback_only(cluster_settings):
    # A run's own Spark (local mode): its RPC and block-manager ports bound the host's address before.
    from pyspark import SparkContext

    from shopflow_assets.resources.spark import get_spark_session, stop_spark_session

    stop_spark_session()
    try:
        get_spark_session(cluster_settings.model_copy(update={"spark_master": "local[1]"}))
        _assert_loopback("local Spark driver", listening({SparkContext._gateway.proc.pid}))
    finally:
        stop_spark_session()


def test_the_spark_connect_server_listens_on_loopback_only(cluster_settings, monkeypatch):
    from shopflow_assets.devstack.spark_connect import SparkConnectService

    monkeypatch.setenv("SPARK_CONNECT_PORT", str(_free_port()))
    settings = reload_settings()
    services = [SparkConnectService()]
    try:
        stack.start_services(services, settings)
        pid = owned_pid(services[0].pid_file(settings), settings.services_dir)
        assert pid is not None
        sockets = listening(_tree(pid))
        assert ("127.0.0.1", settings.spark_connect_port) in sockets
        _assert_loopback("spark-connect", sockets)
    finally:
        stack.stop_services(services, settings)


WORKSPACE = """
import dagster as dg


@dg.asset
def one() -> int:
    return 1


defs = dg.Definitions(assets=[one])
"""


def test_the_dagster_webserver_of_make_dev_listens_on_loopback_only(tmp_path):
    # `make dev` runs `dagster dev -h 127.0.0.1 -p 3000`: the webserver, the daemon and the code server it
    # starts. A tiny code location keeps the start cheap; the flags and processes are make dev's.
    (tmp_path / "defs.py").write_text(WORKSPACE)
    (tmp_path / "home").mkdir()
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    dagster = Path(sys.executable).parent / "dagster"
    process = subprocess.Popen(  # nosec B603 # fixed arguments
        [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port), "-f", str(tmp_path / "defs.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not any(p == port for _, p in listening(_tree(process.pid))):
            assert process.poll() is None, "dagster dev exited"
            assert time.monotonic() < deadline, "dagster dev never listened"
            time.sleep(1)
        time.sleep(3)  # the code server and daemon are up by now
        _assert_loopback("dagster dev", listening(_tree(process.pid)))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def test_make_dev_binds_the_webserver_to_loopback():
    assert "dagster dev -w workspace.yaml -h 127.0.0.1" in (PROJECT_ROOT / "Makefile").read_text()
