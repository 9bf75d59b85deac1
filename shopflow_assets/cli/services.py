"""`shopflow services up|down|status|logs|reset`: the native Kafka, MinIO and PostgreSQL stack."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.table import Table

from shopflow_assets.devstack import stack
from shopflow_assets.devstack.base import Reporter
from shopflow_assets.devstack.process import tail
from shopflow_assets.settings import get_settings

_STATE_STYLE = {
    stack.RUNNING: "green",
    stack.EXTERNAL: "yellow",
    stack.UNHEALTHY: "red",
    stack.STOPPED: "dim",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("services", help="run Kafka, MinIO and PostgreSQL natively on loopback")
    commands = parser.add_subparsers(dest="services_command", required=True)
    names_help = f"services ({', '.join(stack.SERVICES)}); all when omitted"

    up = commands.add_parser("up", help="start the services (downloads/builds on first start)")
    up.add_argument("names", nargs="*", metavar="NAME", help=names_help)
    up.set_defaults(func=cmd_up)

    down = commands.add_parser("down", help="stop the services and any leftover process of theirs")
    down.add_argument("names", nargs="*", metavar="NAME", help=names_help)
    down.set_defaults(func=cmd_down)

    status = commands.add_parser("status", help="table of service, state, address, pid; exit 1 if unhealthy")
    status.add_argument("names", nargs="*", metavar="NAME", help=names_help)
    status.set_defaults(func=cmd_status)

    logs = commands.add_parser("logs", help="print (or follow) a service's log")
    logs.add_argument("name", choices=list(stack.SERVICES), metavar="NAME", help=", ".join(stack.SERVICES))
    logs.add_argument("-n", "--lines", type=int, default=50, help="how many last lines (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C stops)")
    logs.set_defaults(func=cmd_logs)

    reset = commands.add_parser("reset", help="stop the services and DELETE their data (keeps credentials)")
    reset.add_argument("names", nargs="*", metavar="NAME", help=names_help)
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.add_argument(
        "--force",
        action="store_true",
        help="reset minio or postgres alone although the other keeps state depending on it "
        "(then prints the resync to run)",
    )
    reset.set_defaults(func=cmd_reset)


def print_status_table(statuses: list[stack.ServiceStatus], console: Console) -> None:
    table = Table("service", "state", "address", "pid", "detail", title=None, show_lines=False)
    for item in statuses:
        style = _STATE_STYLE.get(item.state, "")
        table.add_row(item.name, f"[{style}]{item.state}[/]", item.address, str(item.pid or "-"), item.detail)
    console.print(table)


def cmd_up(args: argparse.Namespace) -> int:
    console = Console()
    started = time.monotonic()
    console.print(f"[bold]services up[/] ({get_settings().home})")
    statuses = stack.up(args.names, reporter=Reporter(console=console))
    console.print(f"ready in {time.monotonic() - started:.1f}s")
    print_status_table(statuses, console)
    return 0 if all(item.healthy for item in statuses) else 1


def cmd_down(args: argparse.Namespace) -> int:
    console = Console()
    console.print(f"[bold]services down[/] ({get_settings().home})")
    stack.down(args.names, reporter=Reporter(console=console))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    statuses = stack.status(args.names)
    print_status_table(statuses, Console(width=max(Console().width, 140)))
    return 0 if all(item.healthy for item in statuses) else 1


def cmd_logs(args: argparse.Namespace) -> int:
    settings = get_settings()
    log_file = stack.SERVICES[args.name].log_file(settings)
    if not log_file.exists():
        print(f"no log yet for {args.name}: {log_file}", file=sys.stderr)
        return 1
    for line in tail(log_file, args.lines):
        print(line, flush=args.follow)
    if not args.follow:
        return 0
    with log_file.open("r", errors="replace") as handle:
        handle.seek(0, 2)
        while True:
            line = handle.readline()
            if line:
                print(line, end="", flush=True)
            else:
                time.sleep(0.3)


def cmd_reset(args: argparse.Namespace) -> int:
    targets = ", ".join(args.names) or "all services"
    decision = stack.reset_decision(args.names, force=args.force)
    if not decision.allowed:
        print(
            f"refused: {decision.reason}. Reset them together, or add --force and then run: "
            + " && ".join(decision.then_run),
            file=sys.stderr,
        )
        return 2
    if not args.yes:
        answer = input(f"Delete the data of {targets} in {get_settings().services_dir}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    stack.reset(args.names, reporter=Reporter(console=Console()))
    if decision.then_run:
        print(f"{decision.reason}. Now run: " + " && ".join(decision.then_run))
    return 0
