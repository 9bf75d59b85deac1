"""`shopflow spark jars|conf`: pre-fetch Spark's JVM jars (CI, images) and show the session settings."""

from __future__ import annotations

import argparse

from rich.console import Console

from shopflow_assets.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("spark", help="Spark runtime: JVM jars and session settings")
    commands = parser.add_subparsers(dest="spark_command", required=True)
    jars = commands.add_parser("jars", help="fetch Spark's extra jars (spark/pom.xml) into the cache, once")
    jars.set_defaults(func=cmd_jars)
    conf = commands.add_parser("conf", help="print the settings a SparkSession gets (secrets masked)")
    conf.set_defaults(func=cmd_conf)
    server = commands.add_parser(
        "connect-server", help="run a Spark Connect server with ShopFlow's settings (clients: SPARK_REMOTE)"
    )
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=15002, help="port (default 15002)")
    server.set_defaults(func=cmd_connect_server)


def cmd_jars(args: argparse.Namespace) -> int:
    from shopflow_assets.resources.spark_jars import ensure_spark_jars, jars_folder

    settings = get_settings()
    jars = ensure_spark_jars(settings)
    size_mb = sum(jar.stat().st_size for jar in jars) / 1e6
    Console().print(f"{len(jars)} jars, {size_mb:.0f} MB in {jars_folder(settings)}")
    return 0


def cmd_conf(args: argparse.Namespace) -> int:
    from shopflow_assets.resources.spark import SparkResource

    for key, value in sorted(SparkResource().conf_preview().items()):
        print(f"{key}={value}")
    return 0


def cmd_connect_server(args: argparse.Namespace) -> int:
    import os

    from shopflow_assets.resources.spark import connect_server_command
    from shopflow_assets.resources.spark_jars import ensure_spark_jars

    settings = get_settings()
    command = connect_server_command(settings, args.port, args.host, ensure_spark_jars(settings))
    print(f"Spark Connect server on sc://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    os.execv(command[0], command)  # the server replaces this process: signals reach the JVM directly
