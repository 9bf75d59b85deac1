"""CI runs what a developer runs: the GitHub workflow calls `.ci/run`, `make test` runs ruff and bandit
before the suite, and the suite enforces its coverage threshold; bandit reports nothing unexplained."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from shopflow_assets.settings import PROJECT_ROOT


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
