"""Command-line mistakes end in one line saying what to change and exit code 2 (argparse's usage-error
code), never a traceback or a usage dump: checked in a real `shopflow` process and in-process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shopflow_assets import cli

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "shop", "--date", "2024-03-05", "--end", "2024-03-01"], "--end 2024-03-01 is before --date"),
        (["generate", "shop", "--date", "2024-02-30"], "not a date (YYYY-MM-DD): '2024-02-30'"),
        (["generate", "shop", "--date", "2024-02-01", "--days", "0"], "--days must be at least 1, got 0"),
        (["produce", "olist", "--tables", "orders,invoices"], "unknown tables ['invoices']"),
        (["produce", "olist", "--source", "/nonexistent/olist"], "/nonexistent/olist does not exist"),
        (["produce", "clicks", "--rate", "fast"], "--rate must be a number, 'max' or 'gaps'"),
        (["produce", "clicks", "--late-rate", "lots"], "not a number: 'lots'"),
        (["generate", "olist", "--scale"], "expected one argument"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_2(argv, says, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert says in lines[0] and lines[0].startswith("shopflow")
    assert "Traceback" not in captured.err and "usage:" not in captured.err


def test_the_installed_command_exits_2_without_a_traceback():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "shopflow_assets.cli",
            "run",
            "shop",
            "--date",
            "2024-03-05",
            "--end",
            "2024-03-01",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "shopflow: --end 2024-03-01 is before --date 2024-03-05: give an end on or after the start"
    ]


def test_help_still_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("flow", ["page-views", "actions"])
def test_an_injected_stream_prefix_is_refused_before_anything_starts(flow, capsys):
    assert cli.main(["stream", flow, "--once", "--prefix", "x; DROP TABLE fact_orders; --"]) == 2
    err = capsys.readouterr().err
    assert "--prefix" in err and "is not allowed" in err and len(err.strip().splitlines()) == 1
