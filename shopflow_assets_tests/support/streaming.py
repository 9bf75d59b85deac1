"""What the streaming tests share: a fresh run id (its lake keys removed afterwards) and a fresh topic per
test, and the `shopflow stream ... --once` command run as a subprocess.

`run_id` and `topic` are fixtures: a module imports them, and they use that module's `settings` (the
shared stack's in test_streaming.py, an isolated stack's in test_stream_faults.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from shopflow_assets.datagen.producer import ensure_topics
from shopflow_assets.settings import PROJECT_ROOT
from shopflow_assets_tests.support.cleanup import delete_topics, lake_namespace_prefixes, remove_from_lake


@pytest.fixture
def run_id(settings):
    run_id = uuid.uuid4().hex[:10]
    yield run_id
    remove_from_lake(settings, lake_namespace_prefixes(f"_tests/{run_id}", "events", "quarantine"))


@pytest.fixture
def topic(settings, run_id):
    name = f"shopflow_test_stream_{run_id}"
    ensure_topics({name: 2})
    yield name
    delete_topics(settings, [name])


def stream_cli(flow: str, topic: str, prefix: str, settings, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "SHOPFLOW_ENV": "docker",
        "SHOPFLOW_DUCKDB_PATH": str(settings.warehouse_path),
        "SPARK_DRIVER_MEMORY": "1g",
    }
    command = [sys.executable, "-m", "shopflow_assets.cli", "stream", flow, "--once", "--quiet"]
    command += ["--topic", topic, "--prefix", prefix, *extra]
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(process: subprocess.Popen, timeout: float = 600.0) -> dict:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])
