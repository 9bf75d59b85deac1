"""CI runs what a developer runs: the GitHub workflow calls `.ci/run`, `make test` runs ruff and bandit
before the suite, then the tiers one by one with one coverage gate over all of them; `make test-fast` runs
the unit tier; bandit reports nothing unexplained."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


def test_the_workflow_runs_the_ci_entry_point():
    workflow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    commands = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]
    assert "bash .ci/run" in commands
    assert (PROJECT_ROOT / ".ci" / "run").is_file()


def test_make_test_lints_with_bandit_and_enforces_coverage():
    script = (PROJECT_ROOT / "scripts" / "test.sh").read_text()
    assert 'phase "security lint (bandit)" security_lint' in script
    assert "--cov=shopflow_assets" in script
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert config["tool"]["coverage"]["report"]["fail_under"] >= 87


def _tier_runs(script: str) -> list[tuple[str, str]]:
    """(tier, its pytest arguments) of each `phase "tier X" run_tier X ...` line, continuations joined."""
    joined = script.replace("\\\n", " ")
    return re.findall(r'^\s*phase "tier (\w+)" run_tier \1 ?(.*)$', joined, flags=re.MULTILINE)


def test_make_test_runs_every_tier_as_a_phase_with_one_coverage_gate_at_the_end():
    script = (PROJECT_ROOT / "scripts" / "test.sh").read_text()
    runs = _tier_runs(script)
    fast, full = runs[0], runs[1:]
    assert fast[0] == "unit" and "--cov" not in fast[1]  # make test-fast: the unit tier, no coverage
    assert [tier for tier, _ in full] == ["unit", "stack", "slow"]
    assert 'uv_cmd run pytest -m "$tier" --durations=30 "$@"' in script
    first, *appended = [args.split() for _, args in full]
    # One measurement: the first tier starts it, the others append to it.
    assert all("--cov=shopflow_assets" in args for args in (first, *appended))
    assert "--cov-append" not in first and all("--cov-append" in args for args in appended)
    # The gate (fail_under in pyproject.toml) applies once, to the combined result: only the last tier
    # reports without turning the gate off.
    *earlier, last = (first, *appended)
    assert all("--cov-fail-under=0" in args and "--cov-report=" in args for args in earlier)
    assert not any(a.startswith("--cov-fail-under") for a in last)
    assert "--cov-report=term" in last and "--cov-report=xml:coverage.xml" in last
    # A failed tier (exit 5, nothing collected, included) fails the whole run after every tier ran.
    assert "exit $status" in script and "|| code=$?" in script


def test_make_test_fast_runs_the_unit_tier_through_the_same_script():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^test-fast:\n\tbash scripts/test\.sh fast$", makefile, flags=re.MULTILINE)
    assert re.search(r"^test:\n\tbash scripts/test\.sh$", makefile, flags=re.MULTILINE)
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_bandit_finds_no_unexplained_medium_or_high_issue():
    bandit = Path(sys.executable).parent / "bandit"
    result = subprocess.run(
        [
            str(bandit),
            "-q",
            "-r",
            "shopflow_assets",
            "bench",
            "airflow/dags",
            "--severity-level",
            "medium",
            "-f",
            "json",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    report = json.loads(result.stdout)
    assert [(r["filename"], r["line_number"], r["test_id"]) for r in report["results"]] == []
    assert result.returncode == 0
