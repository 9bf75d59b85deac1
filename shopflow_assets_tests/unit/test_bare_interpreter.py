"""The code location loads from the venv's interpreter started with a PATH that lacks the venv (a process
manager, an IDE, a container CMD): dbt is found next to the interpreter, not on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopflow_assets.domains.dbt import dbt_executable, dbt_resource
from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


def test_dbt_is_resolved_next_to_the_interpreter():
    assert dbt_executable() == str(Path(sys.executable).parent / "dbt")
    assert dbt_resource().dbt_executable == dbt_executable()


def test_definitions_import_with_a_path_without_the_venv():
    venv_bin = str(Path(sys.executable).parent)
    stripped = os.pathsep.join(p for p in ("/usr/bin", "/bin") if p != venv_bin)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PATH")} | {"PATH": stripped}
    probe = subprocess.run(["sh", "-c", "command -v dbt"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0, "dbt must not be on the stripped PATH for this test to mean anything"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import shopflow_assets.definitions as d; print(len(d.defs.resolve_asset_graph().get_all_asset_keys()))",
        ],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip().splitlines()[-1]) > 20
