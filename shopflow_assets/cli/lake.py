"""`shopflow lake history|show|restore`: Delta time travel on the lake's bronze, silver and page-view tables."""

from __future__ import annotations

import argparse
import json
import sys

from shopflow_assets.resources.delta_tables import DELTA_TABLES

USAGE_ERROR = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("lake", help="Delta time travel: history, read an old version, restore")
    commands = parser.add_subparsers(dest="lake_command", required=True)
    tables = f"one of: {', '.join(sorted(DELTA_TABLES))}"

    def table_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("table", help=tables)
        command.add_argument(
            "--namespace",
            default="",
            help="a copy of the lake under <bucket>/<namespace>/ (tests, benchmarks)",
        )
        return command

    history = table_command("history", "the table's versions: when, which operation, rows touched")
    history.add_argument("--limit", type=int, default=None, help="newest N versions only")
    history.set_defaults(func=cmd_history)
    show = table_command("show", "the table's rows as they were at a version or a timestamp")
    show.add_argument(
        "--as-of", required=True, help="a version (12) or an ISO timestamp (2026-01-02T03:04:05Z)"
    )
    show.add_argument("--limit", type=int, default=20, help="rows to print (default 20)")
    show.set_defaults(func=cmd_show)
    restore = table_command("restore", "make an old version current again (a new commit; history is kept)")
    restore.add_argument("--to", type=int, required=True, dest="version", help="the version to restore")
    restore.add_argument(
        "--allow-streamed-source",
        action="store_true",
        help="restore a bronze table a silver stream reads anyway (refused without it): its silver table, "
        "that table's quarantine and the stream's checkpoint are removed, and the next olist_pipeline run "
        "rebuilds them from the restored bronze; the removed rows are not read from Kafka again. Run it "
        "with no Olist run going",
    )
    restore.set_defaults(func=cmd_restore)


def _tables(args: argparse.Namespace):
    from shopflow_assets.cli import UsageError
    from shopflow_assets.identifiers import UnsafeNameError
    from shopflow_assets.resources.delta_tables import DeltaTables

    try:
        return DeltaTables.from_settings(namespace=args.namespace)
    except UnsafeNameError as exc:
        raise UsageError(f"shopflow lake: {exc}") from None


def _usage_error(exc: Exception) -> int:
    print(f"shopflow lake: {exc}", file=sys.stderr)
    return USAGE_ERROR


def cmd_history(args: argparse.Namespace) -> int:
    from shopflow_assets.resources.delta_tables import UnknownTableError

    try:
        rows = _tables(args).history(args.table, args.limit)
    except UnknownTableError as exc:
        return _usage_error(exc)
    print(f"{'version':>7}  {'timestamp (UTC)':<19}  {'operation':<16}  metrics")
    for row in rows:
        # Rows and files say what a version did; bytes and timings are in the Delta log for who needs them.
        metrics = {k: v for k, v in row["metrics"].items() if ("Rows" in k or "File" in k) and v}
        print(
            f"{row['version']:>7}  {row['timestamp']:%Y-%m-%d %H:%M:%S}  {row['operation']:<16}  "
            f"{json.dumps(metrics, sort_keys=True)}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from shopflow_assets.resources.delta_tables import UnknownTableError, VersionError, parse_as_of

    try:
        version, rows = _tables(args).snapshot(args.table, parse_as_of(args.as_of), args.limit)
    except (UnknownTableError, VersionError) as exc:
        return _usage_error(exc)
    print(f"{args.table} at version {version} (first {rows.num_rows} rows)")
    print(rows.to_pandas().to_string(index=False) if rows.num_rows else "(no rows)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from shopflow_assets.resources.delta_tables import (
        STREAM_SOURCES,
        StreamedSourceError,
        UnknownTableError,
        VersionError,
    )

    tables = _tables(args)
    try:
        new_version, metrics = tables.restore(
            args.table, args.version, allow_streamed_source=args.allow_streamed_source
        )
    except (UnknownTableError, VersionError, StreamedSourceError) as exc:
        return _usage_error(exc)
    changed = {k: v for k, v in metrics.items() if isinstance(v, int)}
    print(
        f"{args.table} restored to version {args.version} as new version {new_version} {json.dumps(changed)}"
    )
    if args.table in STREAM_SOURCES:
        # The silver stream cannot read the restore: its table is rebuilt from the restored bronze.
        print(tables.streamed_source_consequence(args.table, tables.reset_stream_target(args.table)))
    return 0
