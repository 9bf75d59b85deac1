"""The environment of a process that works on a demo SHOPFLOW_HOME (`shopflow demo`, its Dagster instance
and warehouse), for the browser and dashboard tests."""

from __future__ import annotations

import os
from pathlib import Path


def demo_environment(home: Path) -> dict[str, str]:
    """The environment of a process working on the demo `home` (whatever paths the caller had set)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SHOPFLOW_DUCKDB_PATH", "SHOPFLOW_LAKE_DIR")}
    return env | {"SHOPFLOW_HOME": str(home), "SHOPFLOW_ENV": "local", "DAGSTER_HOME": str(home / "dagster")}
