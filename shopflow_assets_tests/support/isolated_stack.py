"""A service stack of a test's own: only the services it needs, on free ports, under a temporary
SHOPFLOW_HOME. A test may stop, kill or restart them (fault injection, the lifecycle test) without
touching the shared stack of `shopflow services up` that every other test uses (docs/testing.md).

    with isolated_stack(["minio", "postgres"]) as stack:
        devstack.down(["minio"], stack.settings, devstack.quiet_reporter())   # this stack's MinIO only

While the block runs, os.environ points at the isolated stack (its home and every service port, the
shared stack's credentials removed) and the settings cache is cleared, so `get_settings()`, the code it
calls and the subprocesses it starts all use the isolated stack. Afterwards every service of that home
is stopped and the home deleted, also when the test failed, and the environment and settings are back.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from shopflow_assets import devstack
from shopflow_assets.devstack.credentials import CREDENTIAL_FIELDS
from shopflow_assets.devstack.process import processes_in, stop
from shopflow_assets.settings import Settings, reload_settings

# Unset inside the block: each would send a test to the shared stack's home or to another server.
_SHARED_ONLY = (
    "SPARK_REMOTE",
    "SHOPFLOW_LAKE_DIR",
    "SHOPFLOW_DUCKDB_PATH",
    "SHOPFLOW_SHOP_LANDING_DIR",
    "SHOPFLOW_OLIST_CSV_DIR",
)


@dataclass
class IsolatedStack:
    home: Path  # its SHOPFLOW_HOME
    env: dict[str, str]  # what was set in os.environ: the home, every service's port
    shared: Settings  # the shared stack's settings, read before the environment changed
    settings: Settings  # the isolated stack's, with the credentials its `up` generated


def free_ports(count: int, avoid: Iterable[int] = ()) -> list[int]:
    """`count` distinct loopback ports nobody listens on now, none of them in `avoid`."""
    avoid = set(avoid)
    sockets: list[socket.socket] = []
    try:
        while len(sockets) < count:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            if sock.getsockname()[1] in avoid:
                sock.close()
                continue
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _configured_ports(settings: Settings) -> set[int]:
    """Every port the stack of `settings` uses, running or not."""
    return {port for service in devstack.SERVICES.values() for _, port in service.ports(settings)}


@contextmanager
def isolated_stack(
    services: Sequence[str] = (),
    *,
    spark: bool = False,
    prefix: str = "shopflow-isolated-",
) -> Iterator[IsolatedStack]:
    """Start `services` (devstack names; none: the test starts what it needs itself) on a stack of their own.

    spark: the test process's Spark session is stopped before and after, so the test's session (started
    on first use) reads and writes this stack's MinIO, and later tests do not inherit one pointing at it.
    """
    shared = reload_settings()
    kafka, controller, s3, console, postgres, spark_connect = free_ports(6, avoid=_configured_ports(shared))
    # Right under /tmp, not pytest's tmp_path: its parents are mode 700, which the `postgres` user (when
    # running as root) cannot traverse; and PostgreSQL's socket path must stay short.
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp")).resolve()
    env = {
        "SHOPFLOW_HOME": str(home),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "KAFKA_CONTROLLER_PORT": str(controller),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
        "MINIO_CONSOLE_ADDRESS": f"127.0.0.1:{console}",
        "POSTGRES_PORT": str(postgres),
        "SPARK_CONNECT_PORT": str(spark_connect),
        # The isolated stack's warm driver shares the machine with the shared one: a small heap.
        "SPARK_CONNECT_DRIVER_MEMORY": "1g",
    }
    # Credentials another stack exported into this process (for dg.EnvVar) belong to that stack: the
    # isolated one generates its own. Code under test may export the isolated ones; they go at the end.
    credentials_before = {name for name in CREDENTIAL_FIELDS if name in os.environ}
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            for name in (*CREDENTIAL_FIELDS, *_SHARED_ONLY):
                patch.delenv(name, raising=False)
            try:
                settings = reload_settings()
                assert settings.home == home != shared.home, (settings.home, shared.home)
                if spark:
                    _stop_spark()
                if services:
                    devstack.up(list(services), settings, devstack.quiet_reporter())
                    settings = reload_settings()  # with the credentials `up` generated into the home
                yield IsolatedStack(home=home, env=env, shared=shared, settings=settings)
            finally:
                try:
                    if spark:
                        _stop_spark()
                finally:
                    _stop_everything(home)
    finally:
        # MonkeyPatch put back what was set before; what was not, it leaves as the test exported it.
        for name in CREDENTIAL_FIELDS.keys() - credentials_before:
            os.environ.pop(name, None)
        reload_settings()


def _stop_spark() -> None:
    from shopflow_assets.resources.spark import stop_spark_session

    stop_spark_session()


def _stop_everything(home: Path) -> None:
    """Every service of the isolated home stopped (also those the test started itself), then the home gone."""
    try:
        settings = reload_settings()  # still inside the isolated environment
        assert settings.home == home, (settings.home, home)
        devstack.down(settings=settings, reporter=devstack.quiet_reporter())
        # What `down` did not know of (a pid file the test removed): only processes in this temporary home.
        for pid, _ in processes_in(settings.services_dir):
            stop(pid, timeout=10.0)
    finally:
        shutil.rmtree(home, ignore_errors=True)
