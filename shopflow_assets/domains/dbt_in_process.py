"""dbt in the run's own process: dbt-core's `dbtRunner` instead of the `dbt` subprocess dagster-dbt starts.

A `dbt build` subprocess pays dbt's start-up (Python, dbt-core, the adapter) on every call: 12.0 s against
3.9 s in process for the shop models (bench/bench_dbt_invocation.py, docs/runtime.md). A run that executes
a dbt asset has already imported dbt-core (it builds the dagster-dbt definition), so in process that
start-up is gone.

The translation into Dagster events stays dagster-dbt's: dbtRunner's callback receives each structured
event and writes it as the JSON line `dbt --log-format json` would print; the lines become the stdout of
a finished "process" handed to dagster-dbt's own `DbtCliInvocation`, whose `stream()` turns them into
Output/AssetMaterialization per model and AssetCheckResult per test and raises dagster-dbt's error (with
dbt's error messages) when dbt failed. dbt runs to its end inside `cli()`; its events reach Dagster when
the invocation is streamed, right after.

Imports dagster-dbt and dbt-core: only `DbtResource.cli` imports this module, at run time.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._utils import pushd
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import (
    DBT_INDIRECT_SELECTION_ENV,
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME
from packaging import version

from shopflow_assets.settings import environ_with

# The levels dbt prints to stdout by default (`--log-level info`): what the subprocess's JSON log carries.
_PRINTED_LEVELS = ("info", "warn", "error")


class FinishedDbtProcess:
    """What `DbtCliInvocation` reads from a `subprocess.Popen` (args, stdout, wait, returncode), for a dbt
    invocation that already ran in this process: stdout replays its JSON log lines."""

    def __init__(self, args: Sequence[str], log_lines: Sequence[bytes], returncode: int):
        self.args = list(args)
        self.stdout = io.BytesIO(b"".join(line + b"\n" for line in log_lines))
        self.returncode = returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode

    def send_signal(self, signal: int) -> None:  # nothing left to interrupt
        pass


def _error_line(message: str) -> bytes:
    """An error event in dbt's JSON log form, for an exception dbt returned without logging it."""
    event = {"info": {"level": "error", "msg": message, "name": "MainEncounteredError"}, "data": {}}
    return json.dumps(event).encode()


def close_duckdb_connections() -> None:
    """dbt-duckdb keeps the warehouse open (and locked to every other process) in a class-level
    environment after an invocation; a subprocess released it by exiting."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()


def run_dbt(args: Sequence[str], env: Mapping[str, str], project_dir: Path) -> tuple[list[bytes], int]:
    """`dbt <args>` through dbtRunner with `env` exported, from `project_dir` (a subprocess's cwd): the JSON
    log lines dbt would print and the exit code the `dbt` command would return (0 ok, 1 a node failed,
    2 dbt itself failed)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import env_scrubber, msg_to_json

    lines: list[bytes] = []

    def collect(event: Any) -> None:
        if event.info.level in _PRINTED_LEVELS:
            lines.append(env_scrubber(msg_to_json(event)).encode())

    with environ_with(env), pushd(str(project_dir)):
        try:
            # dbt's own stdout log off (DbtCliInvocation prints each event's message, as for a subprocess);
            # the file log (target/<invocation>/dbt.log) keeps the level it would follow from the console's.
            file_level = os.environ.get("DBT_LOG_LEVEL_FILE") or os.environ.get("DBT_LOG_LEVEL") or "debug"
            result = dbtRunner(callbacks=[collect]).invoke(
                list(args), log_level="none", log_level_file=file_level
            )
        finally:
            close_duckdb_connections()
    if isinstance(result.exception, (KeyboardInterrupt, DagsterExecutionInterruptedError)):
        raise result.exception  # the run was interrupted: not a dbt failure
    if result.exception is not None:
        lines.append(_error_line(f"{type(result.exception).__name__}: {result.exception}"))
        return lines, 2
    return lines, 0 if result.success else 1


def _keep_partial_parse(project_dir: Path, target_path: Path) -> None:
    """The prepared partial parse (target/partial_parse.msgpack) copied into the invocation's own target
    folder, as dagster-dbt does for a subprocess: dbt then re-parses only what changed."""
    prepared = project_dir / os.environ.get("DBT_TARGET_PATH", "target") / PARTIAL_PARSE_FILE_NAME
    copy = target_path / PARTIAL_PARSE_FILE_NAME
    if prepared.is_file() and not copy.exists():
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(prepared, copy)


def invoke_in_process(
    resource: DbtCliResource,
    args: Sequence[str],
    *,
    context: dg.AssetExecutionContext | dg.OpExecutionContext | None = None,
    raise_on_error: bool = True,
) -> DbtCliInvocation:
    """`resource.cli(args, context=context)` with dbt run in this process: the same selection (the
    context's subset, its checks), target folder, environment and partial parse, and dagster-dbt's own
    invocation object to stream the events from."""
    import dbt.version

    cleaned_args, selects, excludes = extract_runtime_selection_from_args(list(args))
    params = get_updated_cli_invocation_params_for_context(
        context=context,
        manifest={},
        dagster_dbt_translator=DagsterDbtTranslator(),
        runtime_selects=selects,
        runtime_excludes=excludes,
    )
    project_dir = Path(params.dbt_project.project_dir if params.dbt_project else resource.project_dir)
    target_path = resource._get_unique_target_path(context=context)
    if not target_path.is_absolute():
        target_path = project_dir / target_path
    # The variables dagster-dbt sets for its subprocess (the JSON log format aside: the callback gets
    # the structured events).
    env = {
        "DAGSTER_DBT_CLI": "true",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": os.fspath(target_path),
        "DBT_LOG_PATH": os.fspath(target_path),
        "DBT_PROJECT_DIR": os.fspath(project_dir),
        **({"DBT_PROFILES_DIR": resource.profiles_dir} if resource.profiles_dir else {}),
        **({DBT_INDIRECT_SELECTION_ENV: params.indirect_selection} if params.indirect_selection else {}),
    }
    profile_args = [*(["--profile", resource.profile] if resource.profile else [])]
    profile_args += ["--target", resource.target] if resource.target else []
    dbt_args = [*resource.global_config_flags, *cleaned_args, *profile_args, *params.selection_args]

    _keep_partial_parse(project_dir, target_path)
    log_lines, returncode = run_dbt(dbt_args, env, project_dir)
    return DbtCliInvocation(
        process=FinishedDbtProcess(["dbt", *dbt_args], log_lines, returncode),  # type: ignore[arg-type]
        manifest=params.manifest,
        dagster_dbt_translator=params.dagster_dbt_translator,
        project_dir=project_dir,
        target_path=target_path,
        raise_on_error=raise_on_error,
        cli_version=version.parse(dbt.version.__version__),
        project=params.dbt_project,
        context=context,
        adapter=None,  # only DbtEventIterator.fetch_row_counts/column metadata use it; the assets do not
    )
