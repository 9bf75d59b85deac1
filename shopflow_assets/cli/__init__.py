"""The `shopflow` command: one module per command group in this package, each exposing `register(subparsers)`;
this module only assembles them."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import sys

from shopflow_assets.identifiers import UnsafeNameError

# (sub-command, module exposing `register(subparsers)`), imported lazily so `shopflow --help` stays fast.
COMMAND_MODULES = (
    "shopflow_assets.cli.services",
    "shopflow_assets.cli.datagen",
    "shopflow_assets.cli.pipelines",
    "shopflow_assets.cli.stream",
    "shopflow_assets.cli.spark",
    "shopflow_assets.cli.alerts",
    "shopflow_assets.cli.lake",
    "shopflow_assets.cli.erp",
    "shopflow_assets.cli.dashboard",
    "shopflow_assets.cli.olist",
    "shopflow_assets.cli.rainforest",
)


class UsageError(Exception):
    """A mistake on the command line (a bad value, an impossible combination, a missing folder): `main`
    prints it as one line saying what to change and exits 2, argparse's own usage-error code."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) raised as UsageError, exit 2 in `main`."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def parse_date(text: str) -> dt.date:
    """An argparse `type` for YYYY-MM-DD dates."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def positive(kind: type = int):
    """An argparse `type` for a number of `kind` greater than 0."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a {'whole ' if kind is int else ''}number: {text!r}"
            ) from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return parse


def date_range(start: dt.date, end: dt.date | None, start_flag: str = "--date", end_flag: str = "--end"):
    """(start, end) with end defaulting to start; end before start is a usage error."""
    end = end or start
    if end < start:
        raise UsageError(
            f"{end_flag} {end} is before {start_flag} {start}: give an end on or after the start"
        )
    return start, end


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="shopflow", description="ShopFlow e-commerce lakehouse")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # an area that is not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        from shopflow_assets.settings import ensure_private_home

        ensure_private_home()  # every command may create data or state under it
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"shopflow: {exc}" if not str(exc).startswith("shopflow") else str(exc), file=sys.stderr)
        return 2
    except UnsafeNameError as exc:  # a name given on the command line (topic, prefix, namespace)
        print(f"shopflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:  # our clear, user-facing errors (a stopped service, a missing setting)
        print(f"shopflow: {exc}", file=sys.stderr)
        return 1
