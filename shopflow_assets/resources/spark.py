"""The one place that builds SparkSessions.

`get_spark_session()` gives every caller in a process the same session: local mode by default
(settings.spark_master, `local[2]`), a cluster through Spark Connect when settings.spark_remote is set,
or any master URL. Delta Lake, S3A (pointed at settings.s3_endpoint_url) and the Kafka source are on
the classpath through the jars `spark_jars.ensure_spark_jars()` keeps in the cache.
`spark_conf()` is the pure settings -> Spark configuration mapping (unit-tested without a JVM).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from shopflow_assets.resources import class_archive
from shopflow_assets.resources.spark_jars import ensure_spark_jars
from shopflow_assets.settings import PROJECT_ROOT, Settings, environ_without, get_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOG4J2_PROPERTIES = PROJECT_ROOT / "spark" / "log4j2.properties"

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

# JVM options for the driver and executors, both measured on the user-action stream (docs/streaming.md):
# HotSpot does not JIT-compile a method over 8000 bytecodes, and Spark's generated code for a wide parse
# is larger (it ran interpreted, at half speed); the parallel collector spends less CPU than G1 on
# Spark's short-lived rows (about 7% more events/s on 2 cores).
JVM_OPTIONS = "-XX:-DontCompileHugeMethods -XX:+UseParallelGC"

_lock = threading.Lock()
_session: SparkSession | None = None


def s3a_conf(settings: Settings) -> dict[str, str]:
    """S3A settings for the object store in settings; empty when no credentials are configured."""
    if not settings.aws_access_key_id or settings.aws_secret_access_key is None:
        return {}
    endpoint = settings.s3_endpoint_url.rstrip("/")
    prefix = "spark.hadoop.fs.s3a."
    return {
        prefix + "impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        prefix + "endpoint": endpoint,
        prefix + "endpoint.region": settings.aws_region,
        # MinIO and most self-hosted S3 servers serve buckets as paths, not as DNS names.
        prefix + "path.style.access": "true",
        prefix + "connection.ssl.enabled": str(endpoint.startswith("https://")).lower(),
        prefix + "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        prefix + "access.key": settings.aws_access_key_id,
        prefix + "secret.key": settings.secret("aws_secret_access_key"),
        # Fail within seconds, not minutes, when the store is down (defaults retry for ~ 7 minutes).
        prefix + "attempts.maximum": "3",
        prefix + "retry.limit": "3",
        prefix + "connection.establish.timeout": "15s",  # S3A raises anything lower to 15 s
    }


def driver_java_options(settings: Settings) -> str:
    """The driver JVM's options: logging, Derby's home, JVM_OPTIONS (class sharing is added by spark_conf)."""
    return (
        f"-Dlog4j.configurationFile=file:{LOG4J2_PROPERTIES} -Dderby.system.home={settings.home} "
        + JVM_OPTIONS
    )


def spark_conf(
    settings: Settings,
    app_name: str = "shopflow",
    jars: list[Path] | None = None,
    extra_conf: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every Spark setting ShopFlow uses for a classic (non-Connect) session, from settings."""
    conf: dict[str, str] = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master,
        # Memory is bounded so a job cannot take the shared machine down.
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.ui.enabled": str(settings.spark_ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        # Delta rebuilds table state with 50 partitions by default: far too many tasks for 2 cores.
        "spark.databricks.delta.snapshotPartitions": str(settings.spark_shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(settings.home / "spark-warehouse"),
        "spark.driver.extraJavaOptions": " ".join(
            filter(None, [driver_java_options(settings), class_archive.use_options(settings, jars or [])])
        ),
        "spark.executor.extraJavaOptions": JVM_OPTIONS,
        **DELTA_CONF,
    }
    if settings.spark_master.startswith("local") or "://127.0.0.1:" in settings.spark_master:
        # A driver on one host: its RPC and block-manager ports bind to the host's address otherwise,
        # reachable from the network (a docker-compose driver must stay reachable by remote executors).
        conf["spark.driver.bindAddress"] = conf["spark.driver.host"] = "127.0.0.1"
    if jars:
        classpath = [str(jar) for jar in jars]
        # The driver classpath puts them on the system class loader, which Hadoop's FileSystem lookup
        # (s3a://) and Delta's catalog need; local-mode executors live in the driver JVM and share it.
        conf["spark.driver.extraClassPath"] = ":".join(classpath)
        if settings.spark_cluster_jars_dir:
            # Workers have the same jars (the shopflow-spark image): load them there, ship nothing.
            conf["spark.executor.extraClassPath"] = f"{settings.spark_cluster_jars_dir.rstrip('/')}/*"
        elif not settings.spark_master.startswith("local"):
            # spark.jars ships them to each executor. Not in local mode: there every session would
            # copy all of them (0.7 GB, mostly the AWS SDK bundle) into a temporary directory.
            conf["spark.jars"] = ",".join(classpath)
    if settings.spark_event_log_dir:
        conf["spark.eventLog.enabled"] = "true"
        conf["spark.eventLog.dir"] = settings.spark_event_log_dir
    conf.update(s3a_conf(settings))
    conf.update(extra_conf or {})
    return conf


def connect_conf(settings: Settings, extra_conf: Mapping[str, str] | None = None) -> dict[str, str]:
    """Session-level settings that a Spark Connect client may set (the server owns the rest)."""
    conf = {
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
    }
    conf.update(extra_conf or {})
    return conf


CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def connect_server_command(
    settings: Settings,
    port: int = 15002,
    host: str = "127.0.0.1",
    jars: list[Path] | None = None,
    extra_conf: Mapping[str, str] | None = None,
    conf_dir: Path | None = None,
) -> list[str]:
    """`spark-submit` command line of a Spark Connect server with ShopFlow's settings (Delta, S3A, jars).

    Clients then set SPARK_REMOTE=sc://<host>:<port>. The server ships in the pyspark wheel. Credentials
    go into a properties file only its owner can read (<conf_dir, default settings.home/spark>/
    connect-<port>.conf), never on the command line, which every user of the machine can read in `ps`.
    """
    import pyspark

    spark_submit = Path(pyspark.__file__).resolve().parent / "bin" / "spark-submit"
    conf = spark_conf(settings, "shopflow-connect-server", jars, extra_conf)
    conf.update(
        {
            "spark.connect.grpc.binding.address": host,  # loopback unless asked otherwise
            "spark.connect.grpc.binding.port": str(port),
        }
    )
    command = [str(spark_submit), "--master", conf.pop("spark.master"), "--class", CONNECT_SERVER_CLASS]
    secret = {key: conf.pop(key) for key in [k for k in conf if is_secret_conf_key(k)]}
    if secret:
        folder = conf_dir or settings.home / "spark"
        command += ["--properties-file", str(write_private_properties(folder, port, secret))]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    return command


# What a Connect server starts Python workers with (foreachBatch functions run in them): the project's
# interpreter behind spark/python-worker, which lets a foreachBatch worker connect back to the server
# before its imports (Spark waits a fixed 10 s for that; the imports alone take longer on a loaded machine).
PYTHON_WORKER_LAUNCHER = PROJECT_ROOT / "spark" / "python-worker"


def connect_server_python_env() -> dict[str, str]:
    """PYSPARK_PYTHON and the interpreter behind it, for a Spark Connect server's environment."""
    import sys

    return {"PYSPARK_PYTHON": str(PYTHON_WORKER_LAUNCHER), "SHOPFLOW_WORKER_PYTHON": sys.executable}


def is_secret_conf_key(key: str) -> bool:
    return key.endswith((".secret.key", ".access.key", ".session.token", "password"))


def write_private_properties(folder: Path, port: int, conf: Mapping[str, str]) -> Path:
    """A Java properties file readable by its owner only (created 0600, never widened)."""
    import os

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"connect-{port}.conf"

    # Java properties escaping: backslash first, then the characters that end a key or start a comment
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=").replace(":", "\\:")

    body = "".join(f"{key}={escape(value)}\n" for key, value in conf.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(body)
    return path


def get_spark_session(
    settings: Settings | None = None,
    app_name: str = "shopflow",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """The process-wide SparkSession, started on first use (jars fetched once if missing).

    A later call reuses the running session; its `extra_conf` is applied when Spark allows changing
    those keys at runtime, otherwise a clear error says to call `stop_spark_session()` first.
    """
    global _session
    settings = settings or get_settings()
    if settings.spark_remote:  # a stopped server says so first, whatever this process already runs
        require_connect_server(settings.spark_remote)
    with _lock:
        if _session is not None and _is_alive(_session):
            _require_same_mode(_session, settings.spark_remote)
            _apply_runtime_conf(_session, extra_conf or {})
            return _session
        _session = _build_session(settings, app_name, extra_conf)
        return _session


def stop_spark_session() -> None:
    global _session
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None


def _build_session(settings: Settings, app_name: str, extra_conf: Mapping[str, str] | None) -> SparkSession:
    from pyspark.sql import SparkSession

    if settings.spark_remote:
        builder = SparkSession.builder.remote(settings.spark_remote).appName(app_name)
        for key, value in connect_conf(settings, extra_conf).items():
            builder = builder.config(key, value)
        return builder.getOrCreate()

    settings.home.mkdir(parents=True, exist_ok=True)
    conf = spark_conf(settings, app_name, ensure_spark_jars(settings), extra_conf)
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    with environ_without():  # the JVM inherits os.environ; it reads S3 credentials from its conf
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


class SparkConnectUnavailableError(RuntimeError):
    """SPARK_REMOTE names a Spark Connect server that does not answer."""


def require_connect_server(remote: str, timeout: float = 3.0) -> None:
    """Fail in one line, at once, when the Connect server is down.

    The Connect client would otherwise retry with backoff for minutes before it says anything.
    """
    from shopflow_assets.devstack.health import port_open, split_address

    host, port = split_address(remote.split(";", 1)[0], 15002)
    if not port_open(host, port, timeout=timeout):
        raise SparkConnectUnavailableError(
            f"Spark Connect server {remote} (SPARK_REMOTE) does not answer: start it with "
            "`shopflow services up spark-connect`, or unset SPARK_REMOTE to run Spark inside this process"
        )


def _is_connect(session: SparkSession) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def _require_same_mode(session: SparkSession, remote: str | None) -> None:
    """One process runs Spark one way: pyspark switches the whole process into Connect mode (an
    environment flag) once a Connect session exists, so a classic session cannot follow one, nor the
    reverse be handed out silently."""
    if _is_connect(session) != bool(remote):
        running = "a Spark Connect session" if _is_connect(session) else "an in-process SparkSession"
        wanted = f"Spark Connect at {remote}" if remote else "an in-process SparkSession"
        raise RuntimeError(
            f"this process already runs {running} and was asked for {wanted}: use one process per mode "
            "(each Dagster run is a process of its own; SHOPFLOW_WARM_DRIVER=off keeps runs in-process)"
        )


def _is_alive(session: SparkSession) -> bool:
    try:
        context = session.sparkContext
    except Exception:  # Spark Connect sessions have no SparkContext
        return not getattr(session, "is_stopped", False)
    return context._jsc is not None and not context._jsc.sc().isStopped()


def _apply_runtime_conf(session: SparkSession, extra_conf: Mapping[str, str]) -> None:
    for key, value in extra_conf.items():
        if session.conf.get(key, None) == value:
            continue
        if not session.conf.isModifiable(key):
            raise RuntimeError(
                f"Spark setting {key}={value} can only be set when the session starts, and a SparkSession "
                "is already running in this process: call shopflow_assets.resources.spark."
                "stop_spark_session() first, or set it for every session in spark_conf()."
            )
        session.conf.set(key, value)


class SparkResource(dg.ConfigurableResource):
    """Dagster's handle on the process-wide SparkSession; starting Spark waits until an asset asks.

    build_resources() fills the typed fields from the environment (SPARK_MASTER, SPARK_REMOTE,
    SPARK_DRIVER_MEMORY, SPARK_EXECUTOR_MEMORY, SPARK_SHUFFLE_PARTITIONS), so the UI shows where a run's
    Spark runs; a field left None follows the settings in force when the session starts. The S3A
    credentials are the lake's, from the environment, never a field.
    """

    app_name: str = "shopflow"
    master: str | None = None
    remote: str | None = None
    # The service stack's warm Spark Connect server (settings.warm_driver_url): runs attach to it instead
    # of starting a JVM. `remote` (an explicit SPARK_REMOTE) wins over it.
    warm_driver: str | None = None
    driver_memory: str | None = None
    executor_memory: str | None = None
    shuffle_partitions: int | None = None
    extra_conf: dict[str, str] = {}

    def effective_settings(self) -> Settings:
        fields = {
            "spark_master": self.master,
            "spark_remote": self.remote,
            "spark_driver_memory": self.driver_memory,
            "spark_executor_memory": self.executor_memory,
            "spark_shuffle_partitions": self.shuffle_partitions,
        }
        return get_settings().model_copy(update={k: v for k, v in fields.items() if v is not None})

    def get_session(self) -> SparkSession:
        """The run's session: on the warm driver when the stack has one, else started in this process."""
        settings = self.effective_settings()
        if not settings.spark_remote and self.warm_driver:
            settings = settings.model_copy(update={"spark_remote": self.warm_driver})
        if settings.spark_remote:
            dg.get_dagster_logger().info(f"Spark: attached to the Connect server {settings.spark_remote}")
        return get_spark_session(settings, app_name=self.app_name, extra_conf=self.extra_conf)

    @property
    def spark(self) -> SparkSession:
        return self.get_session()

    def conf_preview(self) -> dict[str, Any]:
        """The configuration a session would get, secrets masked (for run metadata and docs)."""
        conf = spark_conf(self.effective_settings(), self.app_name, None, self.extra_conf)
        return {k: ("***" if "secret" in k or "password" in k else v) for k, v in conf.items()}
