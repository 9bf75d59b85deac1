"""The check-failure sensor on docker-compose's instance (docker/dagster.yaml: storage in PostgreSQL),
against the stack's PostgreSQL, in a database of its own that is dropped afterwards."""

import shutil
import uuid

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from shopflow_assets.settings import PROJECT_ROOT, reload_settings
from shopflow_assets_tests.support.alerts import assert_one_alert_per_failed_check

pytestmark = pytest.mark.stack


@pytest.fixture
def dagster_database(monkeypatch):
    settings = reload_settings()
    if settings.postgres_port != 5432:
        pytest.skip("docker/dagster.yaml names port 5432")
    name = f"dagster_alerts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    # What compose passes the Dagster services; the password comes from the stack's env files.
    monkeypatch.setenv("POSTGRES_HOST", settings.postgres_host)
    monkeypatch.setenv("POSTGRES_DB", name)
    monkeypatch.setenv("POSTGRES_USER", settings.postgres_user)
    monkeypatch.setenv("POSTGRES_PASSWORD", settings.secret("postgres_password"))
    try:
        yield name
    finally:
        with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_failed_blocking_check_is_alerted_once_on_the_compose_instance(tmp_path, dagster_database):
    shutil.copyfile(PROJECT_ROOT / "docker" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert_one_alert_per_failed_check(instance)
