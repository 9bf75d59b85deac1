"""A Spark standalone cluster on loopback: one master, N workers and a history server, natively.

The same layout docker-compose runs on a Docker host, from the Spark that ships in the pyspark package
(`pyspark/bin/spark-class`), so a laptop or CI can run a job through a real master and real executor
JVMs. It is not part of `shopflow services up` (local mode is faster on one machine); it starts with
`shopflow spark cluster up`. A driver uses it with SPARK_MASTER=spark://127.0.0.1:<port> and
SPARK_CLUSTER_JARS_DIR=<the jars folder>, which `shopflow spark cluster env` prints.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from shopflow_assets.devstack.base import NativeService, Reporter
from shopflow_assets.devstack.health import ServiceUnavailableError, port_open
from shopflow_assets.devstack.process import LaunchSpec
from shopflow_assets.settings import Settings


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _spark_class(main_class: str, *args: str) -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), main_class, *args]


def master_url(settings: Settings) -> str:
    return f"spark://127.0.0.1:{settings.spark_standalone_port}"


def event_log_dir(settings: Settings) -> Path:
    return settings.services_dir / "spark-events"


def _env(settings: Settings) -> dict[str, str]:
    return {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOG_DIR": str(settings.logs_dir),
        # Each daemon is small: the executors they launch get their own heap (SPARK_EXECUTOR_MEMORY).
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_NO_DAEMONIZE": "1",
        # Spark's web UIs (master, workers, history server) bind to SPARK_LOCAL_IP, else to every interface;
        # --host only moves the RPC port. The executors the workers launch inherit it too.
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def master_state(settings: Settings, timeout: float = 2.0) -> dict:
    """The master's JSON status (workers, cores, applications)."""
    url = f"http://127.0.0.1:{settings.spark_master_webui_port}/json/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec B310 - loopback URL we built
            return json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise ServiceUnavailableError("Spark master", url, str(exc)) from exc


MASTER_PROPERTIES = "spark.master.rest.enabled false\nspark.ui.killEnabled false\n"


class SparkMasterService(NativeService):
    name = "spark-master"
    title = "Spark master"

    def address(self, settings: Settings) -> str:
        return master_url(settings)

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [
            ("127.0.0.1", settings.spark_standalone_port),
            ("127.0.0.1", settings.spark_master_webui_port),
        ]

    def properties_file(self, settings: Settings) -> Path:
        # Also how `down` recognises the process as ours: its command line points into the data dir.
        return self.data_dir(settings) / "master.properties"

    def prepare(self, settings: Settings, reporter: Reporter) -> None:
        self.data_dir(settings).mkdir(parents=True, exist_ok=True)
        event_log_dir(settings).mkdir(parents=True, exist_ok=True)
        # No REST submission gateway: jobs reach the master only through its RPC port on loopback; no
        # "kill" links in its UI (a page load must not stop an application or driver).
        self.properties_file(settings).write_text(MASTER_PROPERTIES)

    def launch_spec(self, settings: Settings) -> LaunchSpec:
        argv = _spark_class(
            "org.apache.spark.deploy.master.Master",
            "--properties-file",
            str(self.properties_file(settings)),
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.spark_standalone_port),
            "--webui-port",
            str(settings.spark_master_webui_port),
        )
        return LaunchSpec(argv=argv, env=_env(settings), cwd=self.data_dir(settings))

    def check(self, settings: Settings, timeout: float = 3.0) -> None:
        state = master_state(settings, timeout)
        if state.get("status") != "ALIVE":
            raise ServiceUnavailableError(self.title, self.address(settings), f"status {state.get('status')}")


class SparkWorkerService(NativeService):
    title = "Spark worker"

    def __init__(self, index: int):
        self.index = index
        self.name = f"spark-worker-{index}"

    def address(self, settings: Settings) -> str:
        return f"worker {self.index} of {master_url(settings)}"

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return []  # ports chosen by the worker itself

    def prepare(self, settings: Settings, reporter: Reporter) -> None:
        self.data_dir(settings).mkdir(parents=True, exist_ok=True)

    def launch_spec(self, settings: Settings) -> LaunchSpec:
        argv = _spark_class(
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            "127.0.0.1",
            "--cores",
            str(settings.spark_worker_cores),
            "--memory",
            settings.spark_worker_memory,
            "--webui-port",
            "0",
            "--work-dir",
            str(self.data_dir(settings) / "work"),
            master_url(settings),
        )
        return LaunchSpec(argv=argv, env=_env(settings), cwd=self.data_dir(settings))

    def check(self, settings: Settings, timeout: float = 3.0) -> None:
        # Workers register in any order: worker i is up once the master counts i live workers.
        alive = [w for w in master_state(settings, timeout).get("workers", []) if w.get("state") == "ALIVE"]
        if len(alive) < self.index:
            raise ServiceUnavailableError(
                self.title, self.address(settings), f"the master counts {len(alive)} live worker(s)"
            )


class SparkHistoryService(NativeService):
    name = "spark-history"
    title = "Spark history server"

    def address(self, settings: Settings) -> str:
        return f"http://127.0.0.1:{settings.spark_history_port}"

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [("127.0.0.1", settings.spark_history_port)]

    def prepare(self, settings: Settings, reporter: Reporter) -> None:
        event_log_dir(settings).mkdir(parents=True, exist_ok=True)
        self.data_dir(settings).mkdir(parents=True, exist_ok=True)

    def launch_spec(self, settings: Settings) -> LaunchSpec:
        env = _env(settings) | {
            "SPARK_HISTORY_OPTS": (
                f"-Dspark.history.fs.logDirectory=file:{event_log_dir(settings)} "
                f"-Dspark.history.ui.port={settings.spark_history_port}"
            )
        }
        return LaunchSpec(
            argv=_spark_class("org.apache.spark.deploy.history.HistoryServer"),
            env=env,
            cwd=self.data_dir(settings),
        )

    def check(self, settings: Settings, timeout: float = 3.0) -> None:
        if not port_open("127.0.0.1", settings.spark_history_port, timeout=min(1.0, timeout)):
            raise ServiceUnavailableError(self.title, self.address(settings), "nothing listens on that port")


def cluster_services(workers: int) -> list[NativeService]:
    """Master first (workers register with it), then the workers, then the history server."""
    return [
        SparkMasterService(),
        *(SparkWorkerService(i) for i in range(1, workers + 1)),
        SparkHistoryService(),
    ]


def driver_env(settings: Settings, jars_dir: Path) -> dict[str, str]:
    """What a driver process needs to run its jobs on this cluster (the jars are already on this host)."""
    return {
        "SPARK_MASTER": master_url(settings),
        "SPARK_CLUSTER_JARS_DIR": str(jars_dir),
        "SPARK_EVENT_LOG_DIR": f"file:{event_log_dir(settings)}",
        "SPARK_EXECUTOR_MEMORY": settings.spark_worker_memory,
    }
