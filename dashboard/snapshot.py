"""The dashboard's read-only copy of the DuckDB warehouse.

DuckDB allows one writing process or any number of reading processes on a file, never both: a reader
that holds the warehouse open makes every Dagster run that writes to it fail to open it, and a writer
makes the reader fail. So Superset never queries the warehouse itself. It queries a snapshot that this
module publishes: when the warehouse changed, it is opened read-only for as long as a byte copy takes
(milliseconds for the demo), the copy is opened once to fold in its write-ahead log and to prove it is
readable, and it replaces the snapshot atomically. A writer busy at that moment just means the old
snapshot stays until the next try. Standard library + duckdb only: it runs inside Superset's
environment (dashboard/.venv) and the project's.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import time
from pathlib import Path

_LOCK = threading.Lock()
_last_attempt: dict[Path, float] = {}


def source_signature(source: Path) -> str:
    """Size and mtime of the warehouse and its write-ahead log: it changes whenever a writer commits."""
    parts = []
    for path in (source, source.with_name(source.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def _signature_file(target: Path) -> Path:
    return target.with_name(target.name + ".source")


def is_stale(source: Path, target: Path) -> bool:
    if not target.exists():
        return True
    try:
        published = _signature_file(target).read_text()
    except FileNotFoundError:
        return True
    return published != source_signature(source)


def publish(source: Path, target: Path) -> bool:
    """Copy `source` to `target` if it changed. True when a new snapshot was published.

    False when nothing changed, the warehouse does not exist yet, or a writer holds it right now.
    """
    import duckdb

    source, target = Path(source), Path(target)
    if not source.exists() or not is_stale(source, target):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("a") as lock:
        # Superset's worker threads and processes share one snapshot: one publisher at a time.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_stale(source, target):
            return False
        signature = source_signature(source)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp_wal = tmp.with_name(tmp.name + ".wal")
        try:
            try:
                # The read-only open takes DuckDB's shared lock: no writer can change the file mid-copy.
                reader = duckdb.connect(str(source), read_only=True)
            except duckdb.Error:
                return False
            try:
                shutil.copyfile(source, tmp)
                wal = source.with_name(source.name + ".wal")
                if wal.exists():
                    shutil.copyfile(wal, tmp_wal)
            finally:
                reader.close()
            # Opening the copy read-write replays its WAL and checkpoints it into one self-contained file.
            duckdb.connect(str(tmp)).close()
            tmp_wal.unlink(missing_ok=True)
            os.replace(tmp, target)
            _signature_file(target).write_text(signature)
            return True
        finally:
            tmp.unlink(missing_ok=True)
            tmp_wal.unlink(missing_ok=True)


def refresh(source: Path, target: Path, min_interval: float) -> bool:
    """`publish`, at most once per `min_interval` seconds per snapshot (called before every chart query)."""
    target = Path(target)
    with _LOCK:
        now = time.monotonic()
        if now - _last_attempt.get(target, -min_interval - 1) < min_interval:
            return False
        _last_attempt[target] = now
    return publish(Path(source), target)
