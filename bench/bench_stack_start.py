"""How long the native stack takes to start: cold (fresh SHOPFLOW_HOME), warm (already up) and restart.

Runs on an isolated stack (temporary SHOPFLOW_HOME under /tmp, free ports), so the shared stack on the
default ports is untouched. Downloads and builds come from the shared cache (the first `shopflow services
up` on a machine fills it; that one-off cost is in docs/services.md). Prints one table:

    uv run python bench/bench_stack_start.py
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def per_service(timings: list[tuple[str, str, float]]) -> dict[str, float]:
    """Seconds per service: its own phases (prepare steps, start until ready, post-start work)."""
    totals: dict[str, float] = defaultdict(float)
    for service, _what, seconds in timings:
        if service not in ("stack", "settings"):
            totals[service] += seconds
    return dict(totals)


def main() -> int:
    console = Console()
    home = Path(tempfile.mkdtemp(prefix="shopflow-bench-", dir="/tmp"))  # nosec B108 # mkdtemp makes a private, unique directory
    kafka, controller, s3, s3_console, postgres = free_ports(5)
    os.environ.update(
        {
            "SHOPFLOW_HOME": str(home),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
            "KAFKA_CONTROLLER_PORT": str(controller),
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
            "MINIO_CONSOLE_ADDRESS": f"127.0.0.1:{s3_console}",
            "POSTGRES_PORT": str(postgres),
        }
    )
    # Imported after the environment points at the isolated stack.
    from shopflow_assets import devstack
    from shopflow_assets.settings import Settings

    settings = Settings(_env_file=str(home / "generated.env"))
    names = list(devstack.SERVICES)
    rows: dict[str, dict[str, str]] = {name: {} for name in names}
    totals: dict[str, float] = {}
    console.print(
        f"isolated stack in {home} (ports {kafka}, {s3}, {postgres}); load {os.getloadavg()[0]:.1f}"
    )
    try:
        # cold: fresh home, cached jars/binary: KRaft format, initdb, first boot, buckets, role
        reporter = devstack.quiet_reporter()
        started = time.monotonic()
        statuses = devstack.up(settings=settings, reporter=reporter)
        totals["cold"] = time.monotonic() - started
        settings = Settings(_env_file=str(home / "generated.env"))
        for name, seconds in per_service(reporter.timings).items():
            rows[name]["cold"] = f"{seconds:.1f}"
        for item in statuses:
            rows[item.name]["rss"] = f"{rss_mb(item.pid):.0f}"

        # warm: everything already up; per service, then the whole stack
        for name in names:
            started = time.monotonic()
            devstack.up([name], settings=settings, reporter=devstack.quiet_reporter())
            rows[name]["warm"] = f"{time.monotonic() - started:.2f}"
        started = time.monotonic()
        devstack.up(settings=settings, reporter=devstack.quiet_reporter())
        totals["warm"] = time.monotonic() - started

        # restart: down, then up on the existing data
        reporter = devstack.quiet_reporter()
        started = time.monotonic()
        devstack.down(settings=settings, reporter=reporter)
        totals["down"] = time.monotonic() - started
        for name, seconds in per_service(reporter.timings).items():
            rows[name]["down"] = f"{seconds:.1f}"
        reporter = devstack.quiet_reporter()
        started = time.monotonic()
        devstack.up(settings=settings, reporter=reporter)
        totals["restart"] = time.monotonic() - started
        for name, seconds in per_service(reporter.timings).items():
            rows[name]["restart"] = f"{seconds:.1f}"
    finally:
        devstack.down(settings=settings, reporter=devstack.quiet_reporter())
        shutil.rmtree(home, ignore_errors=True)

    table = Table(title="native stack start (seconds; services boot in parallel, so totals < sum)")
    for column in ("service", "cold", "warm", "down", "restart", "RSS MB after cold start"):
        table.add_column(column, justify="right" if column != "service" else "left")
    for name in names:
        row = rows[name]
        table.add_row(name, *(row.get(key, "-") for key in ("cold", "warm", "down", "restart", "rss")))
    table.add_row(
        "whole stack",
        *(f"{totals[key]:.1f}" for key in ("cold", "warm", "down", "restart")),
        "",
        style="bold",
    )
    console.print(table)
    console.print(f"load average after: {os.getloadavg()[0]:.1f} (2 cores, shared with other work)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
