"""`shopflow services reset` of MinIO or PostgreSQL alone: refused while the other keeps state depending on it.

The decision is a pure function; the CLI runs on a throwaway SHOPFLOW_HOME (no shared service is touched).
"""

import pytest

from shopflow_assets.cli import main
from shopflow_assets.devstack import stack
from shopflow_assets.devstack.base import DevstackError
from shopflow_assets.settings import get_settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("names", "kept", "then_run"),
    [
        (["minio"], "postgres", ("shopflow services up", "shopflow erp resync")),
        (
            ["postgres"],
            "minio",
            ("shopflow services up", "shopflow generate erp", "shopflow erp resync"),
        ),
        (["minio", "kafka"], "postgres", ("shopflow services up", "shopflow erp resync")),
    ],
)
def test_one_of_minio_and_postgres_alone_is_refused_with_the_reason_and_the_resync(names, kept, then_run):
    decision = stack.reset_decision(names)
    assert not decision.allowed
    assert f"without {kept}" in decision.reason and "erp" in decision.reason.lower()
    assert decision.then_run == then_run
    forced = stack.reset_decision(names, force=True)
    assert forced.allowed and (forced.reason, forced.then_run) == (decision.reason, decision.then_run)


@pytest.mark.parametrize("names", [[], None, ["minio", "postgres"], ["kafka"], ["spark-connect"]])
def test_resetting_both_all_or_an_unrelated_service_is_allowed_without_a_resync(names):
    assert stack.reset_decision(names) == stack.ResetDecision(allowed=True)


def test_an_unknown_service_is_still_refused_by_name():
    with pytest.raises(DevstackError, match="unknown service nosuch"):
        stack.reset_decision(["nosuch"])


@pytest.fixture
def throwaway_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.services_dir.is_relative_to(tmp_path)  # nothing below can reach the shared stack
    data_dir = stack.SERVICES["minio"].data_dir(settings)
    data_dir.mkdir(parents=True)
    (data_dir / "object").write_text("kept unless reset")
    return data_dir


def test_the_cli_refuses_with_one_line_and_deletes_nothing(throwaway_home, capsys):
    assert main(["services", "reset", "minio", "--yes"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("refused: resetting minio without postgres")
    assert "--force" in err and "shopflow erp resync" in err
    assert (throwaway_home / "object").exists()


def test_the_cli_with_force_resets_and_says_which_resync_to_run(throwaway_home, capsys):
    assert main(["services", "reset", "minio", "--yes", "--force"]) == 0
    assert not throwaway_home.exists()
    assert "Now run: shopflow services up && shopflow erp resync" in capsys.readouterr().out
