"""Fixtures of the browser tests: one demo instance (the shop batch for one day) shared by them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shopflow_assets.settings import PROJECT_ROOT
from shopflow_assets_tests.support.demo import demo_environment


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """A SHOPFLOW_HOME on which `shopflow demo --days 1` ran: a Dagster instance with its runs and a
    warehouse with the shop's tables (embedded defaults: local lake directory, DuckDB file)."""
    home = tmp_path_factory.mktemp("ui_demo")
    env = demo_environment(home)
    result = subprocess.run(
        [sys.executable, "-m", "shopflow_assets.cli", "demo", "--days", "1", "--scale", "0.05"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return home
