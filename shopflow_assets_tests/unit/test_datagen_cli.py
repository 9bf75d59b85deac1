"""The `generate` and `produce` commands without a broker: argument checks, files on disk, and a stopped
broker reported as one clear error naming Kafka and its address."""

from __future__ import annotations

import json
import socket

import pytest

from shopflow_assets import cli
from shopflow_assets.settings import reload_settings

pytestmark = pytest.mark.unit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_generate_shop_writes_each_day_under_out(tmp_path):
    assert (
        cli.main(
            [
                "generate",
                "shop",
                "--date",
                "2024-02-28",
                "--days",
                "2",
                "--orders",
                "300",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    for day in ("2024-02-28", "2024-02-29"):
        manifest = json.loads((tmp_path / day / "manifest.json").read_text())
        assert manifest["date"] == day and manifest["orders"] == 300
        assert (tmp_path / day / "Orders.csv").read_text().count("\n") == manifest["files"]["Orders.csv"][
            "rows"
        ] + 1


def test_generate_olist_cli(tmp_path):
    assert cli.main(["generate", "olist", "--scale", "0.002", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.csv"))) == 9


def test_bad_arguments_are_refused(capsys):
    assert cli.main(["generate", "shop", "--date", "2024-13-01"]) == 2
    assert "not a date" in capsys.readouterr().err
    assert cli.main(["produce", "clicks", "--duplicate-rate", "1.5"]) == 2
    assert cli.main(["produce", "actions", "--rate", "-3"]) == 2


@pytest.mark.parametrize("stream", ["clicks", "actions"])
def test_a_stopped_broker_is_one_clear_error(stream, monkeypatch, capsys):
    address = f"127.0.0.1:{_free_port()}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", address)
    reload_settings()
    try:
        assert cli.main(["produce", stream, "--count", "10", "--no-progress"]) == 1
    finally:
        monkeypatch.undo()
        reload_settings()
    error = capsys.readouterr().err
    assert f"Kafka is not reachable at {address}" in error and "Traceback" not in error


def test_produce_olist_names_a_missing_source(tmp_path, capsys):
    assert cli.main(["produce", "olist", "--source", str(tmp_path / "nowhere"), "--no-progress"]) == 2
    assert "run `shopflow generate olist`" in capsys.readouterr().err
