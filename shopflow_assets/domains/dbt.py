"""The one dbt project of ShopFlow (`dbt_project/`), shared by every domain's dagster-dbt assets.

Loading the code location imports neither dagster-dbt nor dbt-core (dagster-dbt's package imports dbt-core's
adapters, contracts and graph selection: about half of a load). `shopflow dbt-prepare` (make/CI) does the
heavy part once:
- `prepare_dbt()`: `dbt parse` -> target/manifest.json, then every dbt asset definition of `DBT_ASSETS` is
  built with dagster-dbt and its asset and check specs are written to target/ (`PREPARED_SPECS`).
- `prepared_dbt_assets(name)`: the decorator the domains use. It makes the same multi-asset from the
  prepared specs; when a run executes it, the dagster-dbt definition is built (`DBT_ASSETS[name]`) and the
  body's context answers `assets_def` with it, so `DbtResource.cli(..., context=context)` selects and
  translates events as dagster-dbt's `DbtCliResource.cli` does on the definition it expects: with dbt
  run in this process (dbt_in_process.py) or, SHOPFLOW_DBT_IN_PROCESS=0, as a `dbt` subprocess.
- `partition_env()`: a partition's time window -> the env the dbt partition macro reads (min inclusive, max exclusive).
The environment profiles.yml reads comes from the warehouse resource (`WarehouseResource.dbt_environment`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata as dist_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._serdes import deserialize_value, serialize_value  # AssetKey, metadata values, backfill policy

from shopflow_assets.resources.warehouse import WarehouseResource
from shopflow_assets.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from dagster_dbt import DbtCliInvocation, DbtProject

log = logging.getLogger("shopflow.dbt")

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"
MANIFEST_PATH = DBT_TARGET_DIR / "manifest.json"
PREPARED_SPECS = DBT_TARGET_DIR / "shopflow_dagster_specs.json"

# Every dbt asset definition: op name -> "module:function" returning the dagster-dbt AssetsDefinition.
DBT_ASSETS = {
    "shop_dbt_models": "shopflow_assets.domains.shop.dbt_models:build",
    "olist_dbt_models": "shopflow_assets.domains.marketplace.dbt_models:build",
}
# What the prepared specs are derived from besides the manifest: the modules the builders import from this
# project (keep in step with their imports; a change in one makes the next load rebuild the specs).
_SPEC_SOURCES = tuple(
    Path(__file__).parent / name
    for name in (
        "dbt.py",
        "shop/dbt_models.py",
        "shop/partitions.py",
        "marketplace/dbt_models.py",
        "marketplace/__init__.py",
        "marketplace/gold.py",
    )
)


class DbtManifestMissingError(RuntimeError):
    pass


@functools.cache
def dbt_project() -> DbtProject:
    """dagster-dbt's DbtProject of dbt_project/ (imports dagster-dbt, hence dbt-core: call it at run time)."""
    from dagster_dbt import DbtProject

    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


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


# Switch back to the `dbt` subprocess dagster-dbt starts: SHOPFLOW_DBT_IN_PROCESS=0 (docs/runtime.md).
IN_PROCESS_ENV = "SHOPFLOW_DBT_IN_PROCESS"


def dbt_in_process() -> bool:
    """True unless SHOPFLOW_DBT_IN_PROCESS is 0/false/no/off: run dbt through dbtRunner in the run's process."""
    return os.environ.get(IN_PROCESS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class DbtResource(dg.ConfigurableResource):
    """dagster-dbt's `DbtCliResource` for dbt_project/, made when a run calls dbt (not when the code location
    loads, which would import dbt-core).

    `in_process` runs dbt with dbt-core's dbtRunner in the run's own process (domains/dbt_in_process.py),
    saving dbt's start-up on every call; False starts the `dbt` executable as dagster-dbt does. Either
    way `cli()` returns dagster-dbt's invocation, whose `stream()` yields the same Dagster events."""

    dbt_executable: str = "dbt"
    in_process: bool = True

    def cli_resource(self):
        from dagster_dbt import DbtCliResource

        return DbtCliResource(project_dir=dbt_project(), dbt_executable=self.dbt_executable)

    def cli(self, args: list[str], *, context: dg.AssetExecutionContext | None = None) -> DbtCliInvocation:
        if self.in_process:
            from shopflow_assets.domains.dbt_in_process import invoke_in_process

            return invoke_in_process(self.cli_resource(), args, context=context)
        return self.cli_resource().cli(args, context=context)


def dbt_resource() -> DbtResource:
    return DbtResource(dbt_executable=dbt_executable(), in_process=dbt_in_process())


def prepare_dbt(warehouse: WarehouseResource | None = None) -> Path:
    """Run `dbt parse`, then write the specs of every dbt asset definition; return the manifest path (no
    warehouse connection is made).

    The parse sees the environment the runs will see (the default warehouse's), so dbt's partial parse
    stays valid for them: a changed profile makes dbt parse everything again."""
    with (warehouse or WarehouseResource()).dbt_environment():
        dbt_resource().cli_resource().cli(["--quiet", "parse"], target_path=DBT_TARGET_DIR).wait()
    if not MANIFEST_PATH.is_file():
        raise RuntimeError(f"`dbt parse` finished without writing {MANIFEST_PATH}")
    write_prepared_specs()
    return MANIFEST_PATH


def ensure_dbt_manifest() -> Path:
    """The manifest and specs, prepared now if this checkout has none yet or if a model, macro, test or
    project file changed since (for the CLI and benches; loading definitions never parses)."""
    if manifest_is_stale(MANIFEST_PATH, DBT_PROJECT_DIR):
        return prepare_dbt()
    if _read_prepared() is None:
        write_prepared_specs()
    return MANIFEST_PATH


# --- prepared specs: the dbt assets without dagster-dbt at load -----------------------------------------

# dagster-dbt's own objects in a spec's metadata (manifest, translator, project): not written, the run's
# dagster-dbt definition carries them.
_DAGSTER_DBT_OBJECTS = ("dagster_dbt/manifest", "dagster_dbt/dagster_dbt_translator", "dagster_dbt/project")


def _cache_key() -> str:
    digest = hashlib.sha256(MANIFEST_PATH.read_bytes())
    for source in _SPEC_SOURCES:
        digest.update(source.read_bytes())
    for dist in ("dagster", "dagster-dbt"):
        digest.update(dist_metadata.version(dist).encode())
    return digest.hexdigest()


def build_dbt_assets(name: str) -> dg.AssetsDefinition:
    """The dagster-dbt definition of `name` (imports dagster-dbt and dbt-core)."""
    module, function = DBT_ASSETS[name].split(":")
    return getattr(importlib.import_module(module), function)()


def _dep(dep: dg.AssetDep) -> dict[str, Any]:
    if dep.partition_mapping is not None:
        raise ValueError(f"dbt dependency {dep.asset_key} has a partition mapping, which is not prepared")
    return {"asset_key": dep.asset_key, "metadata": dict(dep.metadata or {})}


def _prepared(assets_def: dg.AssetsDefinition) -> dict[str, Any]:
    """The fields of the definition's asset and check specs, as dagster's serdes can write them (specs are
    not serializable themselves); a field dagster-dbt did not use so far is refused rather than lost."""

    def spec(s: dg.AssetSpec) -> dict[str, Any]:
        if s.automation_condition or s.freshness_policy or s.legacy_freshness_policy or s.is_virtual:
            raise ValueError(f"{s.key}: a spec field the prepared dbt specs do not carry is set")
        return {
            "key": s.key,
            "deps": [_dep(d) for d in s.deps],
            "description": s.description,
            "metadata": {k: v for k, v in s.metadata.items() if k not in _DAGSTER_DBT_OBJECTS},
            "group_name": s.group_name,
            "skippable": s.skippable,
            "code_version": s.code_version,
            "owners": list(s.owners),
            "tags": dict(s.tags),
        }

    def check(c: dg.AssetCheckSpec) -> dict[str, Any]:
        if c.automation_condition:
            raise ValueError(f"{c.key}: an automation condition is not carried by the prepared dbt specs")
        return {
            "name": c.name,
            "asset": c.asset_key,
            "description": c.description,
            "additional_deps": [_dep(d) for d in c.additional_deps],
            "blocking": c.blocking,
            "metadata": dict(c.metadata or {}),
        }

    return {
        "specs": [spec(s) for s in assets_def.specs],
        "check_specs": [check(c) for c in assets_def.check_specs],
        "op_tags": dict(assets_def.node_def.tags),
        "backfill_policy": assets_def.backfill_policy,
    }


def _specs(prepared: Mapping[str, Any]) -> tuple[list[dg.AssetSpec], list[dg.AssetCheckSpec]]:
    def deps(items: list[dict[str, Any]]) -> list[dg.AssetDep]:
        return [dg.AssetDep(d["asset_key"], metadata=d["metadata"] or None) for d in items]

    specs = [dg.AssetSpec(**{**s, "deps": deps(s["deps"])}) for s in prepared["specs"]]
    checks = [
        dg.AssetCheckSpec(**{**c, "additional_deps": deps(c["additional_deps"])})
        for c in prepared["check_specs"]
    ]
    return specs, checks


def write_prepared_specs() -> dict[str, Any]:
    """Build every dbt asset definition with dagster-dbt, write what the light definitions need, return it."""
    prepared = {
        "key": _cache_key(),
        "assets": {name: _prepared(build_dbt_assets(name)) for name in DBT_ASSETS},
    }
    # A temporary file renamed into place: a code location loading meanwhile reads the old or the new file.
    with tempfile.NamedTemporaryFile("w", dir=DBT_TARGET_DIR, suffix=".tmp", delete=False) as out:
        out.write(serialize_value(prepared))
    os.replace(out.name, PREPARED_SPECS)
    return prepared


def _read_prepared() -> dict[str, Any] | None:
    """The prepared specs if they were made from this manifest and this code, else None."""
    if not PREPARED_SPECS.is_file():
        return None
    prepared = deserialize_value(PREPARED_SPECS.read_text())
    return prepared if prepared.get("key") == _cache_key() else None


@functools.cache
def prepared_specs() -> Mapping[str, Any]:
    """The prepared dbt asset specs; one clear line when the manifest is missing. Stale specs (the
    manifest or the code that builds the definitions changed) are rebuilt once, with a warning."""
    if not MANIFEST_PATH.is_file():
        raise DbtManifestMissingError(
            f"no dbt manifest at {MANIFEST_PATH}: run `uv run shopflow dbt-prepare` (dbt parse) first"
        )
    if manifest_is_stale(MANIFEST_PATH, DBT_PROJECT_DIR):
        log.warning("dbt_project/ changed after its manifest was written: run `uv run shopflow dbt-prepare`")
    prepared = _read_prepared()
    if prepared is None:
        log.warning(
            "the prepared dbt asset specs are missing or stale: rebuilding them (shopflow dbt-prepare)"
        )
        prepared = write_prepared_specs()
    return prepared["assets"]


@functools.cache
def _dbt_assets_for_run(name: str) -> dg.AssetsDefinition:
    return build_dbt_assets(name)


class _DbtRunContext(dg.AssetExecutionContext):
    """The run's context, except that `assets_def` is the dagster-dbt definition of the same op (same keys,
    checks and outputs), which dagster-dbt reads its manifest, translator and selection from."""

    def __init__(self, context: dg.AssetExecutionContext, assets_def: dg.AssetsDefinition):
        super().__init__(context.op_execution_context)
        self._dbt_assets_def = assets_def

    @property
    def assets_def(self) -> dg.AssetsDefinition:
        return self._dbt_assets_def


def prepared_dbt_assets(
    name: str,
    *,
    partitions_def: dg.PartitionsDefinition | None = None,
    retry_policy: dg.RetryPolicy | None = None,
) -> Callable[[Callable[..., Iterator[Any]]], dg.AssetsDefinition]:
    """`@dbt_assets` without dagster-dbt at load: the multi-asset of `DBT_ASSETS[name]` from the prepared
    specs. `partitions_def` and `retry_policy` must be the ones the dagster-dbt definition is built with."""

    def decorate(fn: Callable[..., Iterator[Any]]) -> dg.AssetsDefinition:
        specs, check_specs = _specs(prepared_specs()[name])
        prepared = prepared_specs()[name]

        @functools.wraps(fn)
        def compute(context, *args: Any, **kwargs: Any) -> Iterator[Any]:  # annotations: fn's (wraps)
            yield from fn(_DbtRunContext(context, _dbt_assets_for_run(name)), *args, **kwargs)

        return dg.multi_asset(
            name=name,
            specs=specs,
            check_specs=check_specs,
            can_subset=True,
            partitions_def=partitions_def,
            op_tags=prepared["op_tags"],
            backfill_policy=prepared["backfill_policy"],
            retry_policy=retry_policy,
            allow_arbitrary_check_specs=True,
        )(compute)

    return decorate


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
