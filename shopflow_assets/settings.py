"""Every endpoint, bucket, path and credential ShopFlow uses, read from the environment.

This is the one place that knows them. Values come, in order of precedence, from the process
environment, `.env` in the project root, and `<SHOPFLOW_HOME>/generated.env` (credentials that
`shopflow services up` generates on first start so that a fresh clone needs no secrets in git).

Two environments (`SHOPFLOW_ENV`):
- `local`  (embedded default): the lake is a directory, the warehouse a DuckDB file; Spark runs in
  local mode. Nothing has to be started.
- `docker` (the service stack): the lake is an S3 server (MinIO from `shopflow services up` or
  docker-compose, or any S3 in production), with Kafka and PostgreSQL at the endpoints below.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

BUCKETS = ("raw-data", "staging", "lakehouse", "events", "processed", "quarantine")

# PostgreSQL databases the stack creates, all owned by POSTGRES_USER: the operational sources the
# pipelines extract from (through the read-only role only) and the relational warehouse.
SOURCE_DATABASES = ("totesys", "rainforest")
WAREHOUSE_DATABASE = "warehouse"


def _home_default() -> Path:
    return Path(os.environ.get("SHOPFLOW_HOME", PROJECT_ROOT / ".shopflow")).resolve()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=(str(PROJECT_ROOT / ".env"), str(_home_default() / "generated.env")),
        env_file_encoding="utf-8",
        extra="ignore",
        # Not populate_by_name: with it, pydantic-settings also reads each field's own name from the
        # environment, so $HOME (always set) became settings.home. Construct with the aliases instead.
        populate_by_name=False,
        # `.env` copied from .env.example has blank values: blank means "not set", not "empty password".
        env_ignore_empty=True,
    )

    env: Literal["local", "docker"] = Field("local", validation_alias="SHOPFLOW_ENV")
    # Whether the schedules and sensors a user expects to run (02:00 shop schedule, S3 and Kafka sensors,
    # alert sensors) start RUNNING. Unset: on for the service stack (docker), off for laptops (local).
    automation: Literal["on", "off"] | None = Field(None, validation_alias="SHOPFLOW_AUTOMATION")

    # Runtime state of this checkout: service data, logs, pids, the local lake and warehouse.
    home: Path = Field(default_factory=_home_default, validation_alias="SHOPFLOW_HOME")
    # Downloads and builds reused across checkouts (JVM jars, the MinIO binary).
    cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "shopflow", validation_alias="SHOPFLOW_CACHE_DIR"
    )

    # --- object store -----------------------------------------------------------------------
    lake_dir: Path | None = Field(None, validation_alias="SHOPFLOW_LAKE_DIR")
    s3_endpoint_url: str = Field("http://127.0.0.1:9000", validation_alias="S3_ENDPOINT_URL")
    aws_access_key_id: str | None = Field(None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(None, validation_alias="AWS_SECRET_ACCESS_KEY")
    aws_region: str = Field("us-east-1", validation_alias="AWS_REGION")
    # MinIO's root (admin) credentials: used only to set the store up (buckets, versioning, the pipeline
    # user whose key the AWS_* variables hold); nothing in the pipeline runs with them.
    minio_root_user: str | None = Field(None, validation_alias="MINIO_ROOT_USER")
    minio_root_password: SecretStr | None = Field(None, validation_alias="MINIO_ROOT_PASSWORD")
    minio_console_address: str = Field("127.0.0.1:9001", validation_alias="MINIO_CONSOLE_ADDRESS")
    # Lake (object store) calls retry transient failures this many times in all, with exponential backoff.
    lake_retry_attempts: int = Field(4, ge=1, validation_alias="LAKE_RETRY_ATTEMPTS")

    # --- Kafka --------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    kafka_controller_port: int = Field(9093, validation_alias="KAFKA_CONTROLLER_PORT")
    # JVM heap of the native broker started by `shopflow services up` (modest: the machine is shared).
    kafka_heap_opts: str = Field("-Xms256m -Xmx768m", validation_alias="KAFKA_HEAP_OPTS")

    # --- PostgreSQL (ERP source and production warehouse) ---------------------------------------
    postgres_host: str = Field("127.0.0.1", validation_alias="POSTGRES_HOST")
    postgres_port: int = Field(5432, validation_alias="POSTGRES_PORT")
    postgres_user: str = Field("shopflow", validation_alias="POSTGRES_USER")
    postgres_password: SecretStr | None = Field(None, validation_alias="POSTGRES_PASSWORD")
    postgres_db: str = Field("shopflow", validation_alias="POSTGRES_DB")
    # The read-only login every extraction from an operational source uses (generated locally).
    postgres_reader_user: str = Field("shopflow_reader", validation_alias="POSTGRES_READER_USER")
    postgres_reader_password: SecretStr | None = Field(None, validation_alias="POSTGRES_READER_PASSWORD")

    # --- Spark ----------------------------------------------------------------------------------
    spark_master: str = Field("local[2]", validation_alias="SPARK_MASTER")
    spark_remote: str | None = Field(None, validation_alias="SPARK_REMOTE")
    # The warm Spark Connect server of the service stack (`shopflow services up`): one JVM that outlives
    # every run, so a run attaches (SPARK_REMOTE=sc://127.0.0.1:<port>) instead of starting its own.
    spark_connect_port: int = Field(15002, validation_alias="SPARK_CONNECT_PORT")
    # Where runs reach it: loopback for the native stack (the server binds nowhere else), the service
    # name under docker-compose.
    spark_connect_host: str = Field("127.0.0.1", validation_alias="SPARK_CONNECT_HOST")
    # Whether runs attach to that server. Unset: on for the service stack (docker), off for laptops
    # (local), whose embedded default must not need the server. SPARK_REMOTE, when set, wins over it.
    warm_driver: Literal["on", "off"] | None = Field(None, validation_alias="SHOPFLOW_WARM_DRIVER")
    # Its master and heap: the server's driver runs every attached run's queries (local executors inside
    # it), so this bounds the memory of all Spark work on the machine together.
    spark_connect_master: str = Field("local[2]", validation_alias="SPARK_CONNECT_MASTER")
    spark_connect_driver_memory: str = Field("4g", validation_alias="SPARK_CONNECT_DRIVER_MEMORY")
    spark_driver_memory: str = Field("4g", validation_alias="SPARK_DRIVER_MEMORY")
    spark_executor_memory: str = Field("2g", validation_alias="SPARK_EXECUTOR_MEMORY")
    spark_shuffle_partitions: int = Field(4, validation_alias="SPARK_SHUFFLE_PARTITIONS")
    # The Spark web UI (port 4040+) costs memory and a port per session: off unless asked for.
    spark_ui_enabled: bool = Field(False, validation_alias="SPARK_UI_ENABLED")
    # On a cluster whose workers already hold spark/pom.xml's jars (the shopflow-spark image has them in
    # /opt/shopflow/spark-jars): executors load them from there instead of receiving 0.7 GB per app.
    spark_cluster_jars_dir: str | None = Field(None, validation_alias="SPARK_CLUSTER_JARS_DIR")
    # Spark's event logs, read by a history server (e.g. file:/path or s3a://bucket/prefix); unset: none.
    spark_event_log_dir: str | None = Field(None, validation_alias="SPARK_EVENT_LOG_DIR")
    # The native standalone cluster of `shopflow spark cluster up` (compose runs the same layout).
    spark_standalone_port: int = Field(7077, validation_alias="SPARK_STANDALONE_PORT")
    spark_master_webui_port: int = Field(8081, validation_alias="SPARK_MASTER_WEBUI_PORT")
    spark_history_port: int = Field(18080, validation_alias="SPARK_HISTORY_PORT")
    spark_worker_cores: int = Field(1, validation_alias="SPARK_WORKER_CORES")
    spark_worker_memory: str = Field("1g", validation_alias="SPARK_WORKER_MEMORY")

    # --- warehouse ------------------------------------------------------------------------------
    duckdb_path: Path | None = Field(None, validation_alias="SHOPFLOW_DUCKDB_PATH")

    # --- shop daily batch -----------------------------------------------------------------------
    # First business day of the shop's daily partitions (YYYY-MM-DD).
    # Where the shop's daily CSVs land before upload (<dir>/YYYY-MM-DD/*.csv). Default: $SHOPFLOW_HOME/incoming/shop
    shop_landing_dir: Path | None = Field(None, validation_alias="SHOPFLOW_SHOP_LANDING_DIR")

    # --- marketplace (Olist) ----------------------------------------------------------------------
    # Folder of the nine Olist CSVs (payments, reviews, geolocation, translation land in bronze from it).
    olist_csv_dir: Path | None = Field(None, validation_alias="SHOPFLOW_OLIST_CSV_DIR")

    # --- alerts -----------------------------------------------------------------------------------
    # Failures are always logged; also POSTed as JSON to this webhook when set, and mailed through this
    # SMTP server when a host and a recipient are set. The webhook URL is a secret (it embeds a token).
    alert_webhook_url: SecretStr | None = Field(None, validation_alias="SHOPFLOW_ALERT_WEBHOOK_URL")
    alert_email_to: str | None = Field(None, validation_alias="SHOPFLOW_ALERT_EMAIL_TO")
    alert_email_from: str = Field("shopflow@localhost", validation_alias="SHOPFLOW_ALERT_EMAIL_FROM")
    smtp_host: str | None = Field(None, validation_alias="SHOPFLOW_SMTP_HOST")
    smtp_port: int = Field(25, validation_alias="SHOPFLOW_SMTP_PORT")
    smtp_user: str | None = Field(None, validation_alias="SHOPFLOW_SMTP_USER")
    smtp_password: SecretStr | None = Field(None, validation_alias="SHOPFLOW_SMTP_PASSWORD")
    smtp_starttls: bool = Field(False, validation_alias="SHOPFLOW_SMTP_STARTTLS")

    # --- derived paths --------------------------------------------------------------------------
    @property
    def services_dir(self) -> Path:
        return self.home / "services"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def local_lake_dir(self) -> Path:
        return (self.lake_dir or self.home / "lake").resolve()

    @property
    def warehouse_path(self) -> Path:
        return (self.duckdb_path or self.home / "warehouse.duckdb").resolve()

    @property
    def shop_landing_root(self) -> Path:
        return (self.shop_landing_dir or self.home / "incoming" / "shop").resolve()

    @property
    def olist_csv_root(self) -> Path:
        return (self.olist_csv_dir or self.home / "incoming" / "olist").resolve()

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / "jars"

    @property
    def automation_on(self) -> bool:
        return self.automation == "on" if self.automation else self.env == "docker"

    @property
    def warm_driver_url(self) -> str | None:
        """The stack's Spark Connect server that runs attach to, or None when runs start their own Spark."""
        if self.spark_remote:
            return None  # an explicit SPARK_REMOTE (a cluster's Connect endpoint) is used instead
        on = self.warm_driver == "on" if self.warm_driver else self.env == "docker"
        return f"sc://{self.spark_connect_host}:{self.spark_connect_port}" if on else None

    @property
    def uses_s3(self) -> bool:
        return self.env == "docker"

    @property
    def s3_host_port(self) -> str:
        return self.s3_endpoint_url.split("://", 1)[-1].rstrip("/")

    @property
    def postgres_dsn(self) -> str:
        """A libpq conninfo string; make_conninfo quotes values (a password with a space or quote)."""
        from psycopg.conninfo import make_conninfo

        password = self.postgres_password.get_secret_value() if self.postgres_password else ""
        return make_conninfo(
            host=self.postgres_host,
            port=self.postgres_port,
            dbname=self.postgres_db,
            user=self.postgres_user,
            password=password or None,
        )

    @property
    def postgres_jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"

    def secret(self, name: str) -> str:
        """The value of a credential field, or a clear error naming the variable to set."""
        value = getattr(self, name)
        if value is None:
            var = self.model_fields[name].validation_alias
            raise RuntimeError(
                f"{var} is not set: export it, put it in .env (see .env.example), "
                "or run `shopflow services up`, which generates local credentials."
            )
        return value.get_secret_value() if isinstance(value, SecretStr) else value


def env_files() -> tuple[str, str]:
    """The env files, resolved now rather than at import, so a SHOPFLOW_HOME set later is honoured.

    Later files win in pydantic-settings: `.env` comes last so that it overrides generated credentials.
    """
    return (str(_home_default() / "generated.env"), str(PROJECT_ROOT / ".env"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(_env_file=env_files())


def reload_settings() -> Settings:
    """Drop the cached settings (after the environment or generated.env changed)."""
    get_settings.cache_clear()
    return get_settings()


# Variables this process took from the env files (name -> value), so a later call can take them back.
_exported_from_files: dict[str, str] = {}

# The variables resources read from os.environ (`dg.EnvVar`), and so the only ones export_env_files puts
# there: never MinIO's root key, which only `shopflow services up` uses (it reads the files itself).
RESOURCE_ENV = {
    "AWS_ACCESS_KEY_ID": "lake: the pipeline's least-privilege S3 user",
    "AWS_SECRET_ACCESS_KEY": "lake: the pipeline's least-privilege S3 user",
    "POSTGRES_PASSWORD": "postgres (owner): the ERP assets and sensors (state, watermarks, warehouse loads)",
    "POSTGRES_READER_PASSWORD": "postgres_reader: extraction from totesys and rainforest",
    "SHOPFLOW_ALERT_WEBHOOK_URL": "alerts",
    "SHOPFLOW_SMTP_PASSWORD": "alerts",
}
# What dbt and Spark's JVM must not inherit: they reach S3 as the pipeline user (dbt through
# AWS_* in its environment, Spark through its configuration) and never PostgreSQL or the alert channels.
CHILD_PROCESS_SECRETS = (
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "POSTGRES_PASSWORD",
    "POSTGRES_READER_PASSWORD",
    "SHOPFLOW_ALERT_WEBHOOK_URL",
    "SHOPFLOW_SMTP_PASSWORD",
)


@contextmanager
def environ_without(names: Iterable[str] = CHILD_PROCESS_SECRETS) -> Iterator[None]:
    """os.environ without `names` while a child process (dbt, a JVM) starts; restored afterwards."""
    removed = {name: os.environ.pop(name) for name in list(names) if name in os.environ}
    try:
        yield
    finally:
        for name, value in removed.items():
            os.environ.setdefault(name, value)


@contextmanager
def environ_with(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in os.environ for the duration of the block, then the previous values (or their absence) back."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def export_env_files() -> dict[str, str]:
    """Put the env files' values of RESOURCE_ENV into os.environ where the process has not set them itself.

    Resources read their secrets through `dg.EnvVar`, which only looks at os.environ; credentials
    generated by `shopflow services up` live in `<SHOPFLOW_HOME>/generated.env`. Only what a resource
    reads is exported: every subprocess of a run inherits os.environ. What an earlier call
    exported is taken back first, so switching SHOPFLOW_HOME never leaves another home's credentials
    behind. Returns the variables exported now.
    """
    from dotenv import dotenv_values

    for name, value in list(_exported_from_files.items()):
        if os.environ.get(name) == value:
            del os.environ[name]
        del _exported_from_files[name]
    merged: dict[str, str] = {}
    for path in env_files():  # later files win, as in Settings
        if Path(path).is_file():
            merged.update({k: v for k, v in dotenv_values(path).items() if v})
    for name, value in merged.items():
        if name in RESOURCE_ENV and name not in os.environ:
            os.environ[name] = value
            _exported_from_files[name] = value
    return dict(_exported_from_files)


def private_dir(path: Path) -> Path:
    """Create `path` and each missing parent as 0700 (mkdir's `parents=True` ignores the mode for parents):
    the lake, the warehouse, service data and credentials under SHOPFLOW_HOME are this user's alone."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)  # the umask may have taken bits off, never added: set it exactly
    return path


def ensure_private_home(settings: Settings | None = None) -> Path:
    """SHOPFLOW_HOME created 0700, or tightened when it exists and is ours (an older checkout made it 0755):
    no other user may list or write it, whatever mode a tool gave a subdirectory.

    Tightening keeps the execute (enter) bits: the PostgreSQL server runs as the `postgres` system user and
    must pass through this directory to its data (devstack/postgres.ensure_traversable adds o+x). Taking it
    away from a running server makes its next checkpoint fail and the server shut down.
    """
    home = (settings or get_settings()).home
    try:
        private_dir(home)
        mode = home.stat().st_mode
        if home.stat().st_uid == os.getuid() and mode & 0o066:
            home.chmod(stat.S_IMODE(mode) & ~0o066)
    except OSError:
        pass  # best effort: a read-only or foreign home is reported by whatever needs to write in it
    return home
