"""spark/python-worker, the warm driver's PYSPARK_PYTHON: a foreachBatch worker connects back to the server
before it imports pyspark's Connect client (Spark waits a fixed 10 s for the connection, and those imports
took longer than that in a soak at load 13-21); every other worker starts as Spark asked.

The server side here is a socket speaking the protocol of Spark's PythonWorkerFactory: accept, read the
secret, answer "ok", read the worker's pid. When the worker has connected, its memory map shows whether
Arrow (imported by the Connect client) is already loaded.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shopflow_assets.resources.spark import PYTHON_WORKER_LAUNCHER, connect_server_python_env

pytestmark = pytest.mark.unit

FOREACH_BATCH_WORKER = "pyspark.sql.connect.streaming.worker.foreach_batch_worker"
SECRET = uuid.uuid4().hex  # what the server would generate for each worker


def read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the worker closed the connection")
        data += chunk
    return data


def connect_back(argv: list[str]) -> tuple[int, str]:
    """Start a worker as the server would; return its pid and its memory map once it has connected."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(120)
        env = {
            **os.environ,
            **connect_server_python_env(),
            "PYTHON_WORKER_FACTORY_PORT": str(server.getsockname()[1]),
            "PYTHON_WORKER_FACTORY_SECRET": SECRET,
        }
        worker = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(120)
                (length,) = struct.unpack(">i", read_exactly(conn, 4))
                assert read_exactly(conn, length).decode() == SECRET
                conn.sendall(struct.pack(">i", 2) + b"ok")
                (pid,) = struct.unpack(">i", read_exactly(conn, 4))
                maps = Path(f"/proc/{pid}/maps").read_text()
        finally:
            worker.wait(timeout=120)  # the connection closed: the worker ends
    assert pid == worker.pid  # the launcher execs: Spark's process handle is the worker itself
    return pid, maps


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads /proc/<pid>/maps")
def test_a_foreach_batch_worker_connects_back_before_importing_the_connect_client():
    _, maps = connect_back([str(PYTHON_WORKER_LAUNCHER), "-m", FOREACH_BATCH_WORKER])
    assert "libarrow" not in maps
    # pyspark's own module, started directly, has loaded Arrow by the time it connects: what the
    # launcher avoids (and what makes this test fail without it).
    _, direct_maps = connect_back([sys.executable, "-m", FOREACH_BATCH_WORKER])
    assert "libarrow" in direct_maps


def test_every_other_worker_starts_as_spark_asked():
    result = subprocess.run(
        [str(PYTHON_WORKER_LAUNCHER), "-c", "import sys; print(sys.executable, sys.argv[1:])", "x"],
        env={**os.environ, **connect_server_python_env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == [sys.executable, "['x']"]


def test_without_its_interpreter_the_launcher_says_which_variable_is_missing():
    env = {k: v for k, v in os.environ.items() if k != "SHOPFLOW_WORKER_PYTHON"}
    result = subprocess.run(
        [str(PYTHON_WORKER_LAUNCHER), "-c", "pass"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "SHOPFLOW_WORKER_PYTHON" in result.stderr
