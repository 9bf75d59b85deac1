"""`make clean` and `shopflow generate erp --reset` delete data: both ask first and name what is lost."""

import builtins
import os
import shutil
import subprocess  # nosec B404 # runs make on a copy of the Makefile
from pathlib import Path

import pytest

from shopflow_assets.cli import main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _make_clean(tmp_path: Path, answer: str | None, *extra: str) -> subprocess.CompletedProcess:
    """`make clean` on a copy of the Makefile whose state is a throwaway .shopflow (uv replaced by `true`)."""
    shutil.copyfile(ROOT / "Makefile", tmp_path / "Makefile")
    state = tmp_path / ".shopflow"
    (state / "lake" / "raw-data").mkdir(parents=True, exist_ok=True)
    (state / "warehouse.duckdb").write_text("x")
    env = {**os.environ, "SHOPFLOW_HOME": str(state), "DAGSTER_HOME": str(state / "dagster")}
    return subprocess.run(  # nosec B603 B607 # make from PATH, fixed arguments
        ["make", "-s", "clean", "UV=true", *extra],
        cwd=tmp_path,
        env=env,
        input=answer,
        stdin=subprocess.DEVNULL if answer is None else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("answer", [None, "", "n\n", "whatever\n"])
def test_make_clean_names_what_is_lost_and_deletes_nothing_without_a_yes(tmp_path, answer):
    result = _make_clean(tmp_path, answer)
    assert result.returncode != 0
    assert "nothing deleted" in result.stdout
    for lost in ("raw data", "ERP", "source (PostgreSQL totesys)", "warehouse"):
        assert lost in result.stdout
    assert (tmp_path / ".shopflow" / "warehouse.duckdb").exists()


@pytest.mark.parametrize("extra", [(), ("YES=1",)])
def test_make_clean_deletes_after_a_yes(tmp_path, extra):
    result = _make_clean(tmp_path, None if extra else "y\n", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / ".shopflow").exists()


@pytest.fixture
def no_database(monkeypatch):
    """Record whether `generate erp` reached PostgreSQL, without one."""
    import shopflow_assets.cli.erp as erp_cli

    reached = []

    def connect(*args, **kwargs):
        reached.append(args)
        raise RuntimeError("stop here: the database was reached")  # main turns it into exit 1

    monkeypatch.setattr(erp_cli, "connect", connect)
    return reached


def test_generate_erp_reset_without_a_terminal_asks_and_deletes_nothing(monkeypatch, capsys, no_database):
    def no_terminal(prompt=""):
        print(prompt, end="")
        raise EOFError

    monkeypatch.setattr(builtins, "input", no_terminal)
    assert main(["generate", "erp", "--reset"]) == 1
    out = capsys.readouterr().out
    assert "ERP source" in out and "totesys" in out and "--yes" in out and "nothing deleted" in out
    assert no_database == []


def test_generate_erp_reset_goes_on_with_a_yes(monkeypatch, no_database):
    monkeypatch.setattr(builtins, "input", lambda prompt="": "y")
    main(["generate", "erp", "--reset"])  # fails at the fake database, after the answer
    monkeypatch.setattr(builtins, "input", lambda prompt="": pytest.fail("--yes must not ask"))
    main(["generate", "erp", "--reset", "--yes"])
    assert len(no_database) == 2
