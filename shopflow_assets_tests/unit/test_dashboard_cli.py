"""`shopflow dashboard` without starting Superset: its secret key, port setting and stopped-state answers."""

from __future__ import annotations

import stat

import pytest

from shopflow_assets.cli import main
from shopflow_assets.cli.dashboard import ensure_secret_key, superset_env
from shopflow_assets.settings import reload_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("SUPERSET_SECRET_KEY", raising=False)
    monkeypatch.delenv("SHOPFLOW_DASHBOARD_PORT", raising=False)
    return tmp_path


def test_secret_key_is_generated_once_into_a_private_file_and_the_environment_wins(home, monkeypatch):
    settings = reload_settings()
    first = ensure_secret_key(settings)
    generated = home / "generated.env"
    assert len(first) == 64 and f"SUPERSET_SECRET_KEY={first}" in generated.read_text()
    assert stat.S_IMODE(generated.stat().st_mode) == 0o600
    assert ensure_secret_key(settings) == first  # kept: sessions stay valid across restarts

    monkeypatch.setenv("SUPERSET_SECRET_KEY", "from-the-environment")
    assert ensure_secret_key(settings) == "from-the-environment"


def test_superset_reads_a_snapshot_of_the_configured_warehouse(home):
    env = superset_env(reload_settings(), home / "dashboard")
    assert env["SHOPFLOW_DASHBOARD_WAREHOUSE"] == str(home / "warehouse.duckdb")
    assert env["SHOPFLOW_DASHBOARD_SNAPSHOT"] == str(home / "dashboard" / "warehouse-snapshot.duckdb")
    assert env["SUPERSET_CONFIG_PATH"].endswith("dashboard/superset_config.py")


def test_superset_gets_the_read_only_postgres_login_without_its_password(home, monkeypatch):
    monkeypatch.setenv("POSTGRES_READER_USER", "report_reader")
    monkeypatch.setenv("POSTGRES_READER_PASSWORD", "r3ader")
    monkeypatch.setenv("POSTGRES_PASSWORD", "0wner")
    env = superset_env(reload_settings(), home / "dashboard")
    assert env["POSTGRES_READER_USER"] == "report_reader"
    assert env["SHOPFLOW_DASHBOARD_ERP_DATABASE"] == "warehouse"
    # The password goes only to the provisioning process (dashboard/provision.py imports it encrypted).
    assert "r3ader" not in env.values() and "0wner" not in env.values()

    monkeypatch.delenv("POSTGRES_READER_PASSWORD")
    assert "POSTGRES_READER_USER" not in superset_env(reload_settings(), home / "dashboard")


def test_status_and_stop_when_not_running(home, capsys):
    reload_settings()
    assert main(["dashboard", "--status"]) == 1
    assert "dashboard: stopped" in capsys.readouterr().out
    assert main(["dashboard", "--stop"]) == 0
    assert "not running" in capsys.readouterr().out


def test_a_bad_port_is_a_one_line_error(home, monkeypatch, capsys):
    monkeypatch.setenv("SHOPFLOW_DASHBOARD_PORT", "eighty")
    reload_settings()
    assert main(["dashboard", "--status"]) == 1
    assert "SHOPFLOW_DASHBOARD_PORT must be a port number, got 'eighty'" in capsys.readouterr().err
