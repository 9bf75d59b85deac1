"""Secrets stay out of logs and command lines: the S3 secret on the `spark connect-server` command line,
the DSN quoting of a password with spaces and quotes (the alert webhook URL is redacted by AlertResource)."""

from __future__ import annotations

import stat

import psycopg.conninfo
import pytest
from pydantic import SecretStr

from shopflow_assets.redact import redact, redact_url, scram_sha256_verifier
from shopflow_assets.resources.spark import connect_server_command
from shopflow_assets.settings import get_settings

pytestmark = pytest.mark.unit


def test_redact_helpers():
    assert redact_url("https://hooks.example.com:8443/services/T0/B0/XXXX?token=abc") == (
        "https://hooks.example.com:8443/***"
    )
    assert (
        redact("user=a password=s3cr3t host=h s3cr3t", ["s3cr3t", None, ""])
        == "user=a password=*** host=h ***"
    )
    verifier = scram_sha256_verifier("pw", salt=b"0123456789abcdef")
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$") and "pw" not in verifier


def test_connect_server_command_line_holds_no_credential(tmp_path):
    settings = get_settings().model_copy(
        update={
            "home": tmp_path,
            "aws_access_key_id": "pipeline-key",
            "aws_secret_access_key": SecretStr("very=secret:value\\x"),
        }
    )
    command = connect_server_command(settings, port=15123)
    joined = " ".join(command)
    assert "very=secret" not in joined and "pipeline-key" not in joined
    properties = tmp_path / "spark" / "connect-15123.conf"
    assert command[command.index("--properties-file") + 1] == str(properties)
    assert stat.S_IMODE(properties.stat().st_mode) == 0o600
    lines = properties.read_text().splitlines()
    assert "spark.hadoop.fs.s3a.secret.key=very\\=secret\\:value\\\\x" in lines
    assert "spark.hadoop.fs.s3a.access.key=pipeline-key" in lines
    assert "spark.hadoop.fs.s3a.endpoint=" + settings.s3_endpoint_url.rstrip("/") in joined


def test_postgres_dsn_quotes_awkward_passwords():
    settings = get_settings().model_copy(
        update={"postgres_password": SecretStr("it's a pass word\\"), "postgres_user": "shop user"}
    )
    parsed = psycopg.conninfo.conninfo_to_dict(settings.postgres_dsn)
    assert parsed["password"] == "it's a pass word\\"
    assert parsed["user"] == "shop user"
    assert parsed["port"] == str(settings.postgres_port)
