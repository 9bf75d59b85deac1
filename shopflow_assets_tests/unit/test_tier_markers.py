"""Every test carries exactly one tier (unit, stack, slow): collection fails naming any test that has none
or two, also when `-m` would have deselected it (docs/testing.md)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib

import pytest

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


def _collect(module, *args: str) -> subprocess.CompletedProcess:
    """Collect only `module`, a file outside the suite (other engineers' runs never see it), with the
    project's pytest configuration and the suite's conftest.py loaded as a plugin."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "shopflow_assets_tests.conftest",
            "-c",
            str(PROJECT_ROOT / "pyproject.toml"),
            "--rootdir",
            str(module.parent),
            *args,
            str(module),
        ],
        cwd=module.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def temporary_module(tmp_path):
    return tmp_path / "test_tier_probe.py"


def test_a_test_without_a_tier_fails_collection_naming_it(temporary_module):
    temporary_module.write_text(
        textwrap.dedent(
            """
            import pytest

            def test_without_a_tier():
                pass

            @pytest.mark.unit
            def test_with_a_tier():
                pass
            """
        )
    )
    for args in ((), ("-m", "unit")):
        result = _collect(temporary_module, *args)
        output = result.stdout + result.stderr
        assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
        assert "test_tier_probe.py::test_without_a_tier: no tier" in output
        assert "test_with_a_tier:" not in output


def test_two_tiers_fail_collection_naming_the_test(temporary_module):
    temporary_module.write_text(
        textwrap.dedent(
            """
            import pytest

            pytestmark = pytest.mark.stack

            @pytest.mark.slow
            def test_with_two_tiers():
                pass

            def test_with_one_tier():
                pass
            """
        )
    )
    result = _collect(temporary_module)
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "test_tier_probe.py::test_with_two_tiers: tiers slow, stack" in output
    assert "test_with_one_tier:" not in output


def test_the_tiers_are_registered():
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert sorted(m.split(":")[0] for m in config["markers"]) == ["slow", "stack", "unit"]
    assert "--strict-markers" in config["addopts"]
