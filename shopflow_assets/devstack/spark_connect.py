"""The stack's warm Spark driver: a Spark Connect server that outlives every run.

A run that sets SPARK_REMOTE=sc://127.0.0.1:<SPARK_CONNECT_PORT> attaches to it instead of starting a
JVM, loading the jars and warming the JIT itself (docs/runtime.md, "The warm driver"). The server is the
pyspark wheel's own (`connect_server_command()`), with the project's jars, Delta, S3A pointed at the
stack's MinIO with the pipeline user's key, and the driver's class-data sharing archive when one is
recorded. It listens on loopback only. Its heap (SPARK_CONNECT_DRIVER_MEMORY) bounds all Spark work of
the attached runs together: local executors live inside the server's JVM.
"""

from __future__ import annotations

import os

from shopflow_assets.devstack.base import NativeService, Reporter
from shopflow_assets.devstack.health import ServiceUnavailableError, port_open
from shopflow_assets.devstack.process import LaunchSpec
from shopflow_assets.settings import PROJECT_ROOT, Settings

HOST = "127.0.0.1"


def remote_url(settings: Settings) -> str:
    """What a client sets SPARK_REMOTE to for this server."""
    return f"sc://{HOST}:{settings.spark_connect_port}"


def server_settings(settings: Settings) -> Settings:
    """The settings the server's driver runs with: its own master and heap, the rest as every run's."""
    return settings.model_copy(
        update={
            "spark_master": settings.spark_connect_master,
            "spark_driver_memory": settings.spark_connect_driver_memory,
            "spark_remote": None,
        }
    )


class SparkConnectService(NativeService):
    name = "spark-connect"
    title = "Spark Connect server"
    # The first start loads ~0.7 GB of jars; later starts map the class archive and take ~10 s.
    start_timeout = 180.0

    def address(self, settings: Settings) -> str:
        return remote_url(settings)

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [(HOST, settings.spark_connect_port)]

    def prepare(self, settings: Settings, reporter: Reporter) -> None:
        from shopflow_assets.resources.spark_jars import ensure_spark_jars

        self.data_dir(settings).mkdir(parents=True, exist_ok=True)
        with reporter.phase(self.name, "Spark jars (Maven, first time only)"):
            ensure_spark_jars(settings)

    def launch_spec(self, settings: Settings) -> LaunchSpec:
        from shopflow_assets.resources.spark import connect_server_command, connect_server_python_env
        from shopflow_assets.resources.spark_jars import ensure_spark_jars

        driver = server_settings(settings)
        argv = connect_server_command(
            driver,
            port=settings.spark_connect_port,
            host=HOST,
            jars=ensure_spark_jars(driver),
            # Also how `down` recognises the process as ours: its command line points into the data dir.
            conf_dir=self.data_dir(settings),
        )
        env = {
            "HOME": os.environ.get("HOME", str(settings.home)),
            # foreachBatch functions run in Python workers beside the server: the project's interpreter,
            # with the project importable, as in the run that defined them.
            **connect_server_python_env(),
            "PYTHONPATH": str(PROJECT_ROOT),
            "SPARK_LOG_DIR": str(settings.logs_dir),
        }
        return LaunchSpec(argv=argv, env=env, cwd=self.data_dir(settings))

    def check(self, settings: Settings, timeout: float = 3.0) -> None:
        if not port_open(HOST, settings.spark_connect_port, timeout=min(1.0, timeout)):
            raise ServiceUnavailableError(
                self.title,
                remote_url(settings),
                "nothing listens on that port: start it with `shopflow services up spark-connect`",
            )
