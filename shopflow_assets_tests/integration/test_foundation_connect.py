"""Spark Connect: a server started from connect_server_command() and a client that only sets SPARK_REMOTE."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from shopflow_assets.devstack.health import port_open
from shopflow_assets.devstack.minio import s3_client
from shopflow_assets.resources.spark import connect_server_command
from shopflow_assets.resources.spark_jars import ensure_spark_jars
from shopflow_assets.settings import get_settings

pytestmark = pytest.mark.stack

CLIENT = """
import json, sys
from shopflow_assets.resources.spark import get_spark_session
spark = get_spark_session()
path = sys.argv[1]
spark.range(1000).selectExpr("id", "id * 3 as tripled").write.format("delta").save(path)
row = spark.read.format("delta").load(path).selectExpr("count(*) as n", "sum(tripled) as total").first()
s3_path = sys.argv[2]  # the server's S3 credentials come from its private properties file, not argv
spark.range(10).write.format("delta").save(s3_path)
s3_rows = spark.read.format("delta").load(s3_path).count()
print(json.dumps({"session": type(spark).__module__, "n": row.n, "total": row.total, "s3_rows": s3_rows,
                  "tz": spark.conf.get("spark.sql.session.timeZone")}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def connect_server(tmp_path):
    settings = get_settings().model_copy(update={"spark_master": "local[1]", "spark_driver_memory": "1g"})
    port = _free_port()
    log_path = tmp_path / "connect-server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            connect_server_command(settings, port=port, jars=ensure_spark_jars(settings)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while not port_open("127.0.0.1", port, timeout=1.0):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Spark Connect server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            # An idle server exits in under a second; after the test's S3 writes its shutdown hooks took a
            # full minute in one run. Nothing of it is needed after the test: kill it then.
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_client_with_spark_remote_writes_and_reads_delta_through_the_server(connect_server, tmp_path):
    path = tmp_path / "orders"
    s3_prefix = f"_tests/connect-{os.getpid()}-{int(time.time())}"
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, f"file://{path}", f"s3a://lakehouse/{s3_prefix}/numbers"],
        env={**os.environ, "SPARK_REMOTE": connect_server},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    lake = s3_client(get_settings())
    for item in lake.list_objects_v2(Bucket="lakehouse", Prefix=s3_prefix).get("Contents", []):
        lake.delete_object(Bucket="lakehouse", Key=item["Key"])
    assert payload == {
        "session": "pyspark.sql.connect.session",
        "n": 1000,
        "total": 1_498_500,
        "s3_rows": 10,
        "tz": "UTC",
    }
    assert (path / "_delta_log").is_dir()  # the server, not the client, wrote the table
