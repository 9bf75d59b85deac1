"""The ERP change sensor without a PostgreSQL (the embedded demo): a clear skip, not a sensor error."""

import socket

import dagster as dg
import pytest

from shopflow_assets.domains.erp.automation import erp_change_sensor
from shopflow_assets.resources.postgres import PostgresResource

pytestmark = pytest.mark.unit


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_change_sensor_skips_with_the_reason_when_postgres_is_not_running():
    port = _closed_port()
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "postgres": PostgresResource(host="127.0.0.1", port=port),
            "postgres_reader": PostgresResource(host="127.0.0.1", port=port),
        },
    )
    result = erp_change_sensor(context)
    assert isinstance(result, dg.SkipReason)
    assert f"127.0.0.1:{port}" in result.skip_message and "not reachable" in result.skip_message
