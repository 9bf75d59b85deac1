"""`shopflow spark jars|class-archive|conf|connect-server|cluster`: Spark's JVM jars, the driver's class-data
sharing archive, session settings, a Connect server, and a native standalone cluster (master, workers,
history server)."""

from __future__ import annotations

import argparse

from rich.console import Console

from shopflow_assets.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("spark", help="Spark runtime: JVM jars and session settings")
    commands = parser.add_subparsers(dest="spark_command", required=True)
    jars = commands.add_parser("jars", help="fetch Spark's extra jars (spark/pom.xml) into the cache, once")
    jars.set_defaults(func=cmd_jars)
    archive = commands.add_parser(
        "class-archive",
        help="record the classes a Spark run loads into an archive later driver JVMs map (faster start)",
    )
    archive.add_argument("--force", action="store_true", help="record it again even if it exists")
    archive.set_defaults(func=cmd_class_archive)
    conf = commands.add_parser("conf", help="print the settings a SparkSession gets (secrets masked)")
    conf.set_defaults(func=cmd_conf)
    server = commands.add_parser(
        "connect-server", help="run a Spark Connect server with ShopFlow's settings (clients: SPARK_REMOTE)"
    )
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=15002, help="port (default 15002)")
    server.set_defaults(func=cmd_connect_server)

    cluster = commands.add_parser(
        "cluster", help="a native Spark standalone cluster on 127.0.0.1: master, workers, history server"
    )
    actions = cluster.add_subparsers(dest="cluster_command", required=True)
    up = actions.add_parser("up", help="start the master, N workers and the history server")
    up.add_argument(
        "--workers", type=int, default=2, choices=range(1, 9), metavar="N", help="workers, 1-8 (default 2)"
    )
    up.set_defaults(func=cmd_cluster_up)
    down = actions.add_parser("down", help="stop the cluster")
    down.add_argument("--workers", type=int, default=8, help="stop workers 1..N (default 8)")
    down.set_defaults(func=cmd_cluster_down)
    env = actions.add_parser("env", help="print the variables that send a driver's jobs to the cluster")
    env.set_defaults(func=cmd_cluster_env)


def cmd_jars(args: argparse.Namespace) -> int:
    from shopflow_assets.resources.spark_jars import ensure_spark_jars, jars_folder

    settings = get_settings()
    jars = ensure_spark_jars(settings)
    size_mb = sum(jar.stat().st_size for jar in jars) / 1e6
    Console().print(f"{len(jars)} jars, {size_mb:.0f} MB in {jars_folder(settings)}")
    return 0


def cmd_class_archive(args: argparse.Namespace) -> int:
    import time

    from shopflow_assets.resources.class_archive import build

    console = Console()
    started = time.perf_counter()
    with console.status("recording the classes of a small Spark run (about 30 s)"):
        path = build(get_settings(), force=args.force)
    size_mb = path.stat().st_size / 1e6
    console.print(f"class archive {path} ({size_mb:.0f} MB) ready in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_conf(args: argparse.Namespace) -> int:
    from shopflow_assets.resources.spark import SparkResource

    for key, value in sorted(SparkResource().conf_preview().items()):
        print(f"{key}={value}")
    return 0


def cmd_connect_server(args: argparse.Namespace) -> int:
    import os

    from shopflow_assets.resources.spark import connect_server_command, connect_server_python_env
    from shopflow_assets.resources.spark_jars import ensure_spark_jars

    settings = get_settings()
    command = connect_server_command(settings, args.port, args.host, ensure_spark_jars(settings))
    os.environ.update(connect_server_python_env())
    print(f"Spark Connect server on sc://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    os.execv(command[0], command)  # the server replaces this process: signals reach the JVM directly


def cmd_cluster_up(args: argparse.Namespace) -> int:
    from shopflow_assets.devstack import spark_cluster, stack
    from shopflow_assets.devstack.base import Reporter

    settings = get_settings()
    statuses = stack.start_services(spark_cluster.cluster_services(args.workers), settings, Reporter())
    for status in statuses:
        print(f"{status.name:<16} {status.state:<9} {status.address}")
    print(f"master UI http://127.0.0.1:{settings.spark_master_webui_port}; run jobs on it with:")
    return cmd_cluster_env(args)


def cmd_cluster_down(args: argparse.Namespace) -> int:
    from shopflow_assets.devstack import spark_cluster, stack
    from shopflow_assets.devstack.base import Reporter

    outcomes = stack.stop_services(spark_cluster.cluster_services(args.workers), get_settings(), Reporter())
    for name, outcome in outcomes.items():
        if outcome != "not running":
            print(f"{name:<16} {outcome}")
    return 0


def cmd_cluster_env(args: argparse.Namespace) -> int:
    from shopflow_assets.devstack.spark_cluster import driver_env
    from shopflow_assets.resources.spark_jars import jars_folder

    settings = get_settings()
    for name, value in driver_env(settings, jars_folder(settings)).items():
        print(f"export {name}={value}")
    return 0
