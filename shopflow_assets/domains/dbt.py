"""The one dbt project of ShopFlow (`dbt_project/`), shared by every domain's dagster-dbt assets.

- `DBT_PROJECT`: the dagster-dbt DbtProject; domains select their models by tag (`tag:shop`, `tag:olist`).
- `prepare_dbt()`: `dbt parse` -> target/manifest.json, which dagster-dbt needs to load definitions
  (`shopflow dbt-prepare` in make/CI; definitions also call it when the manifest is missing or stale).
  The environment profiles.yml reads comes from the warehouse resource (`WarehouseResource.dbt_environment`).
- `partition_env()`: a partition's time window -> the env the dbt partition macro reads (min inclusive, max exclusive).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from shopflow_assets.resources.warehouse import WarehouseResource
from shopflow_assets.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def partition_vars(start: dt.datetime | dt.date, end: dt.datetime | dt.date) -> dict[str, str]:
    """A partition window [start, end) -> the dbt vars the incremental models filter on."""
    as_date = lambda value: value.date() if isinstance(value, dt.datetime) else value  # noqa: E731
    first, last = as_date(start), as_date(end)
    if last <= first:
        raise ValueError(f"empty partition window [{first}, {last})")
    return {"min_date": first.isoformat(), "max_date": last.isoformat()}


# The partition window reaches dbt through the environment, not `--vars`: dbt drops its partial parse
# whenever `--vars` change (a full parse per partition, ~10 s), while a changed env_var() value only
# re-renders the files that read it (measured in docs/shop-batch.md).
PARTITION_ENV = {"min_date": "SHOPFLOW_DBT_MIN_DATE", "max_date": "SHOPFLOW_DBT_MAX_DATE"}


def partition_env(start: dt.datetime | dt.date, end: dt.datetime | dt.date) -> dict[str, str]:
    """A partition window [start, end) -> the environment variables the shop partition macro reads."""
    return {PARTITION_ENV[name]: value for name, value in partition_vars(start, end).items()}


def dbt_executable() -> str:
    """The `dbt` installed next to the running interpreter (the venv's bin/), else whatever PATH finds.

    A process manager, an IDE or a container CMD often starts `.venv/bin/python` with a PATH that lacks
    the venv; dagster-dbt would then fail to find `dbt` while loading the code location.
    """
    beside = Path(sys.executable).parent / ("dbt.exe" if os.name == "nt" else "dbt")
    return str(beside) if beside.is_file() else "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable())


def prepare_dbt(warehouse: WarehouseResource | None = None) -> Path:
    """Run `dbt parse` and return the manifest path (no warehouse connection is made).

    The parse sees the environment the runs will see (the default warehouse's), so dbt's partial parse
    stays valid for them: a changed profile makes dbt parse everything again."""
    with (warehouse or WarehouseResource()).dbt_environment():
        dbt_resource().cli(["--quiet", "parse"], target_path=DBT_PROJECT.target_path).wait()
    manifest = DBT_PROJECT.manifest_path
    if not manifest.is_file():
        raise RuntimeError(f"`dbt parse` finished without writing {manifest}")
    return manifest


def ensure_dbt_manifest() -> Path:
    """The manifest, parsed now if this checkout has none yet (a fresh clone) or if a model, macro, test or
    project file changed since it was written (a pull that adds a model would otherwise fail at run time,
    when dagster-dbt meets a node its manifest does not have)."""
    manifest = DBT_PROJECT.manifest_path
    return manifest if not manifest_is_stale(manifest, DBT_PROJECT.project_dir) else prepare_dbt()


def manifest_is_stale(manifest: Path, project_dir: Path) -> bool:
    """True when `manifest` is missing or older than any .sql/.yml file of the dbt project."""
    if not manifest.is_file():
        return True
    written = manifest.stat().st_mtime
    generated = {"target", "dbt_packages", "logs"}  # dbt's own output: not walked (target/ is large)
    sources = [p for p in project_dir.iterdir() if p.name not in generated and not p.name.startswith(".")]
    files = [p for p in sources if p.is_file()]
    files += [f for d in sources if d.is_dir() for f in d.rglob("*") if f.is_file()]
    return any(f.suffix in (".sql", ".yml") and f.stat().st_mtime > written for f in files)
