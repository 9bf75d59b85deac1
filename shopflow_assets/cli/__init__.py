"""The `shopflow` command: one module per command group in this package, each exposing `register(subparsers)`;
this module only assembles them."""

from __future__ import annotations

import argparse
import importlib
import sys

# (sub-command, module exposing `register(subparsers)`), imported lazily so `shopflow --help` stays fast.
COMMAND_MODULES = (
    "shopflow_assets.cli.services",
    "shopflow_assets.cli.datagen",
    "shopflow_assets.cli.pipelines",
    "shopflow_assets.cli.stream",
    "shopflow_assets.cli.spark",
    "shopflow_assets.cli.alerts",
    "shopflow_assets.cli.olist",
    "shopflow_assets.cli.erp",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopflow", description="ShopFlow e-commerce lakehouse")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:  # our clear, user-facing errors (a stopped service, a missing setting)
        print(f"shopflow: {exc}", file=sys.stderr)
        return 1
