"""Secrets stay out of logs and command lines: the webhook URL in a failure log, the S3 secret on the
`spark connect-server` command line, the DSN quoting of a password with spaces and quotes."""

from __future__ import annotations

import http.server
import logging
import stat
import threading

import psycopg.conninfo
from pydantic import SecretStr

from shopflow_assets.domains.marketplace.notifications import notification_payload, notify
from shopflow_assets.redact import redact, redact_url, scram_sha256_verifier
from shopflow_assets.resources.spark import connect_server_command
from shopflow_assets.settings import get_settings


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


def test_a_failed_webhook_logs_its_host_not_its_url(caplog):
    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token_url = f"http://127.0.0.1:{server.server_port}/hooks/T000/SECRET-TOKEN-123"
    settings = get_settings().model_copy(update={"alert_webhook_url": token_url, "alert_email_to": None})
    try:
        with caplog.at_level(logging.ERROR, logger="shopflow.marketplace.notify"):
            channels = notify(notification_payload("olist_pipeline", "r1", "FAILURE", "boom"), settings)
    finally:
        server.shutdown()
    assert channels == ["log"]
    assert f"webhook notification to http://127.0.0.1:{server.server_port}/*** failed" in caplog.text
    assert "SECRET-TOKEN-123" not in caplog.text


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
