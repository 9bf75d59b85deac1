"""The Olist gold models (dbt, `tag:olist`) and how they find silver: SHOPFLOW_OLIST_LAKE_ROOT in dbt's environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shopflow_assets.domains.dbt import DBT_PROJECT_DIR
from shopflow_assets.resources.warehouse import dbt_environment
from shopflow_assets.settings import Settings

OLIST_SELECT = "tag:olist"


# The lakehouse root reaches dbt through the environment, not `--vars`: dbt drops its partial parse whenever
# `--vars` differ from the parse's (a full parse on every run, ~6 s of the Olist dbt step), while a changed
# env_var() value only re-renders the sources file that reads it. The shop's partition window does the same.
OLIST_LAKE_ROOT_ENV = "SHOPFLOW_OLIST_LAKE_ROOT"


def olist_dbt_env(lakehouse_root: str) -> dict[str, str]:
    """The environment pointing the olist sources at the lakehouse bucket (DuckDB form of the lake URI).

    The value lands inside `delta_scan('...')`: its single quotes are doubled so it stays one literal
    (the namespace part is already held to a strict pattern by MarketplaceLake)."""
    return {OLIST_LAKE_ROOT_ENV: lakehouse_root.rstrip("/").replace("'", "''")}


def run_dbt_olist(
    command: str, lakehouse_root: str, settings: Settings, target_path: Path | None = None
) -> subprocess.CompletedProcess:
    """`dbt <command> --select tag:olist` outside Dagster (`shopflow olist dbt`, benchmarks, end-to-end tests),
    same env as Dagster."""
    dbt = Path(sys.executable).with_name("dbt")
    args = [str(dbt), command, "--select", OLIST_SELECT]
    args += ["--profiles-dir", str(DBT_PROJECT_DIR)]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    with dbt_environment(settings, olist_dbt_env(lakehouse_root)):
        result = subprocess.run(args, cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"dbt {command} of the olist models failed:\n{result.stdout[-6000:]}")
    return result
