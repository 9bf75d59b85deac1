"""The dashboard's read-only warehouse snapshot (dashboard/snapshot.py) against DuckDB's one-writer lock.

DuckDB's file lock is per process, so the writer runs in a child process, like a Dagster run would.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def snapshot():
    spec = importlib.util.spec_from_file_location(
        "dashboard_snapshot", PROJECT_ROOT / "dashboard" / "snapshot.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count(path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT count(*) FROM t").fetchone()[0]


def _hold_writer(path, rows: int):
    """A child process that opens the warehouse read-write, inserts `rows` rows and keeps it open."""
    code = textwrap.dedent(f"""
        import sys, time, duckdb
        con = duckdb.connect({str(path)!r})
        con.execute("INSERT INTO t SELECT range FROM range({rows})")
        print("ready", flush=True)
        sys.stdin.readline()
        con.close()
    """)
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "ready"
    return child


def test_publish_copies_once_then_only_after_a_change(snapshot, tmp_path):
    warehouse, target = tmp_path / "warehouse.duckdb", tmp_path / "dash" / "snapshot.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(5)")
    assert snapshot.publish(warehouse, target) is True
    assert _count(target) == 5
    assert snapshot.publish(warehouse, target) is False  # unchanged: no copy

    time.sleep(0.01)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO t SELECT range FROM range(3)")
    assert snapshot.publish(warehouse, target) is True
    assert _count(target) == 8
    assert not list(target.parent.glob(".*.tmp*"))  # no temporary copy left behind


def test_writer_holding_the_warehouse_keeps_the_old_snapshot_and_is_never_blocked(snapshot, tmp_path):
    warehouse, target = tmp_path / "warehouse.duckdb", tmp_path / "snapshot.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(5)")
    assert snapshot.publish(warehouse, target)

    # Superset's reader holds the snapshot while a run writes the warehouse: the writer is not blocked.
    with duckdb.connect(str(target), read_only=True):
        writer = _hold_writer(warehouse, 10)
        try:
            # The writer holds the lock: no copy now, the previous snapshot still answers.
            assert snapshot.publish(warehouse, target) is False
            assert _count(target) == 5
        finally:
            writer.communicate("done\n", timeout=30)
    assert writer.returncode == 0
    # Once the writer is gone the next publish folds its commit (WAL included) into the snapshot.
    assert snapshot.publish(warehouse, target) is True
    assert _count(target) == 15


def test_refresh_is_throttled(snapshot, tmp_path):
    warehouse, target = tmp_path / "warehouse.duckdb", tmp_path / "snapshot.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert snapshot.refresh(warehouse, target, min_interval=60) is True
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO t VALUES (2)")
    assert snapshot.refresh(warehouse, target, min_interval=60) is False  # too soon: one copy per minute
    assert _count(target) == 1
    assert snapshot.refresh(warehouse, target, min_interval=0) is True
    assert _count(target) == 2


def test_missing_warehouse_publishes_nothing(snapshot, tmp_path):
    assert snapshot.publish(tmp_path / "absent.duckdb", tmp_path / "snapshot.duckdb") is False
    assert not (tmp_path / "snapshot.duckdb").exists()
