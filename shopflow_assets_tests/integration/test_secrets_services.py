"""Secrets against the real services: a failed PostgreSQL bootstrap leaves the password in no log and no
error message, and a role bootstrapped from its SCRAM verifier logs in with the clear password."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from pydantic import SecretStr

from shopflow_assets import devstack
from shopflow_assets.devstack.base import DevstackError
from shopflow_assets.devstack.postgres import PostgresService
from shopflow_assets.settings import reload_settings

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def settings():
    settings = reload_settings()
    devstack.up(["postgres"], settings=settings, reporter=devstack.quiet_reporter())
    return reload_settings()


def test_a_failed_bootstrap_logs_no_password(settings):
    password = f"Leak-{uuid.uuid4().hex}"
    service = PostgresService()
    # pg_monitor exists and is reserved: CREATE ROLE is skipped and ALTER ROLE ... PASSWORD fails
    bad = settings.model_copy(
        update={"postgres_user": "pg_monitor", "postgres_password": SecretStr(password)}
    )
    log = service.log_file(settings)
    before = log.stat().st_size if log.exists() else 0
    with pytest.raises(DevstackError) as error:
        service.after_start(bad, devstack.quiet_reporter())
    assert "reserved" in str(error.value) and password not in str(error.value)
    with log.open("rb") as handle:  # the bootstrap output and the server's own log share this file
        handle.seek(before)
        written = handle.read().decode(errors="replace")
    assert "pg_monitor" in written and password not in written


def test_a_role_set_from_its_scram_verifier_logs_in_with_the_clear_password(settings):
    user, password = f"probe_{uuid.uuid4().hex[:8]}", f"it's a {uuid.uuid4().hex}"
    probe = settings.model_copy(update={"postgres_user": user, "postgres_password": SecretStr(password)})
    PostgresService().after_start(probe, devstack.quiet_reporter())
    with psycopg.connect(probe.postgres_dsn, connect_timeout=5) as conn:
        assert conn.execute("select current_user").fetchone() == (user,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(probe.postgres_dsn.replace("a ", "b "), connect_timeout=5).close()
