"""Apache Kafka as a single KRaft node (broker and controller in one JVM), from Maven Central jars."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from shopflow_assets.devstack.base import DevstackError, NativeService, Reporter, run_logged
from shopflow_assets.devstack.health import ServiceUnavailableError, port_open, split_address
from shopflow_assets.devstack.process import LaunchSpec, file_lock
from shopflow_assets.settings import PROJECT_ROOT, Settings

KAFKA_POM = PROJECT_ROOT / "kafka" / "pom.xml"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_COMPLETE_MARKER = ".complete"

# librdkafka's connection errors while a broker is down are expected during health checks: keep them
# out of the terminal (the check raises its own clear error).
_LIBRDKAFKA_LOG = logging.getLogger("shopflow.devstack.kafka.librdkafka")
_LIBRDKAFKA_LOG.propagate = False
_LIBRDKAFKA_LOG.addHandler(logging.NullHandler())


def kafka_version(pom: Path = KAFKA_POM) -> str:
    """The broker version pinned in kafka/pom.xml (the one place it is written)."""
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", _POM_NS)  # nosec B314 # the repository's own kafka/pom.xml
    if node is None or not (node.text or "").strip():
        raise DevstackError(f"{pom} has no <kafka.version> property")
    return node.text.strip()


def jars_dir(settings: Settings, version: str | None = None) -> Path:
    return settings.jars_dir / f"kafka-{version or kafka_version()}"


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid format).

    Kafka itself avoids ids starting with '-' because they read as command-line options; so do we.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def render_server_properties(settings: Settings, log_dir: Path) -> str:
    host, port = split_address(settings.kafka_bootstrap_servers, 9092)
    controller = f"{host}:{settings.kafka_controller_port}"
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.quorum.bootstrap.servers": controller,
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        # One node: every internal topic has one replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Producers create their topics on first write.
        "auto.create.topics.enable": "true",
        # Consumers in tests join at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
        # Local disk is small and shared: keep a week or 1 GB per partition.
        "log.retention.hours": "168",
        "log.retention.bytes": str(1024**3),
    }
    body = "".join(f"{key}={value}\n" for key, value in lines.items())
    return "# Written by `shopflow services up` on every start; edit settings, not this file.\n" + body


LOG4J2_PROPERTIES = """\
# Kafka's log goes to stdout, which `shopflow services up` appends to <logs_dir>/kafka.log.
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
"""


def _require_tool(name: str, install_hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DevstackError(f"`{name}` is not on PATH; the Kafka broker needs it: {install_hint}")
    return path


class KafkaService(NativeService):
    name = "kafka"
    title = "Kafka"
    start_timeout = 90.0
    stop_timeout = 45.0  # controlled shutdown flushes logs and writes a clean snapshot

    def address(self, settings: Settings) -> str:
        host, port = split_address(settings.kafka_bootstrap_servers, 9092)
        return f"{host}:{port}"

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        host, port = split_address(settings.kafka_bootstrap_servers, 9092)
        return [(host, port), (host, settings.kafka_controller_port)]

    def config_file(self, settings: Settings) -> Path:
        return self.data_dir(settings) / "server.properties"

    def log_dir(self, settings: Settings) -> Path:
        return self.data_dir(settings) / "data"

    # --- prepare ----------------------------------------------------------------------------------
    def ensure_jars(self, settings: Settings, reporter: Reporter) -> Path:
        """The broker classpath in the shared cache, downloaded with Maven on first use."""
        version = kafka_version()
        target = jars_dir(settings, version)
        if (target / _COMPLETE_MARKER).exists():
            return target
        mvn = _require_tool("mvn", "apt-get install maven")
        with file_lock(target.with_name(f".{target.name}.lock")):
            if (target / _COMPLETE_MARKER).exists():  # another process finished it while we waited
                return target
            partial = target.with_name(f".{target.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            with reporter.phase(self.name, f"download kafka {version} jars (Maven)", announce=True) as update:
                run_logged(
                    [
                        mvn,
                        "-B",
                        "-f",
                        str(KAFKA_POM),
                        "dependency:copy-dependencies",
                        f"-DoutputDirectory={partial}",
                    ],
                    self.log_file(settings),
                    update,
                    what=f"Downloading the Kafka {version} jars with Maven",
                )
            (partial / _COMPLETE_MARKER).write_text(f"kafka {version}\n")
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
        return target

    def prepare(self, settings: Settings, reporter: Reporter) -> None:
        _require_tool("java", "apt-get install openjdk-17-jre-headless")
        classpath_dir = self.ensure_jars(settings, reporter)
        data_dir = self.data_dir(settings)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file(settings).write_text(render_server_properties(settings, self.log_dir(settings)))
        (data_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)

        # The standalone controller records its own endpoint at format time: a later port change would
        # leave a quorum that points at the old one, so say so rather than start a broken node.
        controller = (
            f"{split_address(settings.kafka_bootstrap_servers, 9092)[0]}:{settings.kafka_controller_port}"
        )
        formatted_for = data_dir / "formatted-controller"
        if (self.log_dir(settings) / "meta.properties").exists():
            previous = formatted_for.read_text().strip() if formatted_for.exists() else controller
            if previous != controller:
                raise DevstackError(
                    f"Kafka storage in {self.log_dir(settings)} was formatted for controller {previous}, "
                    f"but KAFKA_CONTROLLER_PORT now gives {controller}: restore the old port or run "
                    "`shopflow services reset kafka` (deletes the topics)."
                )
            return
        with reporter.phase(self.name, "format KRaft storage") as update:
            run_logged(
                [
                    *self._java(settings, classpath_dir),
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "--cluster-id",
                    new_cluster_id(),
                    "--config",
                    str(self.config_file(settings)),
                ],
                self.log_file(settings),
                update,
                what="Formatting Kafka storage (kafka.tools.StorageTool)",
            )
        formatted_for.write_text(controller + "\n")

    def _java(self, settings: Settings, classpath_dir: Path, heap: str = "-Xmx256m") -> list[str]:
        return [
            _require_tool("java", "apt-get install openjdk-17-jre-headless"),
            *heap.split(),
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir(settings) / 'log4j2.properties'}",
            "-cp",
            f"{classpath_dir}/*",
        ]

    # --- run --------------------------------------------------------------------------------------
    def launch_spec(self, settings: Settings) -> LaunchSpec:
        argv = [
            *self._java(settings, jars_dir(settings), settings.kafka_heap_opts),
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            # One JVM among many on a 2-core machine: do not size thread pools for more.
            "-XX:ActiveProcessorCount=2",
            "kafka.Kafka",
            str(self.config_file(settings)),
        ]
        env = {"JAVA_HOME": os.environ["JAVA_HOME"]} if os.environ.get("JAVA_HOME") else {}
        return LaunchSpec(argv=argv, env=env, cwd=self.data_dir(settings))

    def check(self, settings: Settings, timeout: float = 3.0) -> None:
        address = self.address(settings)
        host, port = split_address(address, 9092)
        if not port_open(host, port, timeout=min(1.0, timeout)):
            raise ServiceUnavailableError(self.title, address, "nothing listens on that port")
        from confluent_kafka.admin import AdminClient
        from confluent_kafka.error import KafkaException

        client = AdminClient(
            {
                "bootstrap.servers": address,
                "socket.connection.setup.timeout.ms": 2000,
                "logger": _LIBRDKAFKA_LOG,
            }
        )
        try:
            metadata = client.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise ServiceUnavailableError(self.title, address, f"metadata request failed: {exc}") from exc
        if not metadata.brokers:
            raise ServiceUnavailableError(self.title, address, "metadata lists no broker")
