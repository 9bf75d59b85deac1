"""Settings -> client configuration for Spark, DuckDB, dbt-duckdb, Kafka and PostgreSQL (no services, no JVM)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shopflow_assets.resources import RESOURCE_KEYS, build_resources
from shopflow_assets.resources.kafka import kafka_client_config, spark_kafka_options
from shopflow_assets.resources.lake import LocalLake, S3Lake
from shopflow_assets.resources.postgres import spark_jdbc_options
from shopflow_assets.resources.spark import connect_conf, s3a_conf, spark_conf
from shopflow_assets.resources.warehouse import dbt_duckdb_profile, s3_secret_sql, setup_sql
from shopflow_assets.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.unit


def make_settings(tmp_path: Path, **env: str) -> Settings:
    return Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path), **env)


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "shopflow-key", "AWS_SECRET_ACCESS_KEY": "shopflow-secret"}


def test_s3a_conf_maps_endpoint_path_style_ssl_region_and_credentials(tmp_path):
    conf = s3a_conf(
        make_settings(
            tmp_path, S3_ENDPOINT_URL="http://127.0.0.1:9000/", AWS_REGION="eu-west-1", **CREDENTIALS
        )
    )
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert conf["spark.hadoop.fs.s3a.access.key"] == "shopflow-key"
    assert conf["spark.hadoop.fs.s3a.secret.key"] == "shopflow-secret"
    assert conf["spark.hadoop.fs.s3a.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"


def test_s3a_conf_uses_ssl_for_https_and_is_empty_without_credentials(tmp_path):
    https = s3a_conf(make_settings(tmp_path, S3_ENDPOINT_URL="https://s3.example.com", **CREDENTIALS))
    assert https["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"
    assert s3a_conf(make_settings(tmp_path)) == {}


def test_spark_conf_bounds_memory_and_sets_delta_utc_quiet_ui(tmp_path):
    settings = make_settings(
        tmp_path, SPARK_DRIVER_MEMORY="3g", SPARK_EXECUTOR_MEMORY="1g", SPARK_SHUFFLE_PARTITIONS="6"
    )
    jars = [Path("/cache/a.jar"), Path("/cache/b.jar")]
    conf = spark_conf(settings, "orders", jars, {"spark.sql.shuffle.partitions": "8"})
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.app.name"] == "orders"
    assert conf["spark.driver.memory"] == "3g"
    assert conf["spark.executor.memory"] == "1g"
    assert conf["spark.sql.shuffle.partitions"] == "8"  # extra_conf wins
    assert conf["spark.databricks.delta.snapshotPartitions"] == "6"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.driver.extraClassPath"] == "/cache/a.jar:/cache/b.jar"
    # Local executors share the driver JVM: shipping the jars would copy 0.7 GB per session.
    assert "spark.jars" not in conf
    assert "spark.hadoop.fs.s3a.access.key" not in conf
    assert make_settings(tmp_path).spark_driver_memory == "4g"


def test_cluster_jars_are_shipped_or_taken_from_the_workers(tmp_path):
    jars = [Path("/cache/a.jar"), Path("/cache/b.jar")]
    shipped = spark_conf(make_settings(tmp_path, SPARK_MASTER="spark://spark-master:7077"), jars=jars)
    assert shipped["spark.master"] == "spark://spark-master:7077"
    assert shipped["spark.jars"] == "/cache/a.jar,/cache/b.jar"
    on_workers = spark_conf(
        make_settings(
            tmp_path,
            SPARK_MASTER="spark://spark-master:7077",
            SPARK_CLUSTER_JARS_DIR="/opt/shopflow/spark-jars/",
        ),
        jars=jars,
    )
    assert "spark.jars" not in on_workers
    assert on_workers["spark.executor.extraClassPath"] == "/opt/shopflow/spark-jars/*"
    assert on_workers["spark.driver.extraClassPath"] == "/cache/a.jar:/cache/b.jar"


def test_spark_ui_can_be_enabled(tmp_path):
    assert spark_conf(make_settings(tmp_path, SPARK_UI_ENABLED="true"))["spark.ui.enabled"] == "true"


def test_connect_conf_only_sets_session_level_keys(tmp_path):
    conf = connect_conf(make_settings(tmp_path, SPARK_REMOTE="sc://spark:15002"))
    assert conf == {"spark.sql.shuffle.partitions": "4", "spark.sql.session.timeZone": "UTC"}


def test_a_run_pointed_at_a_stopped_connect_server_fails_at_once_saying_how_to_start_it(tmp_path):
    import socket
    import time

    from shopflow_assets.resources.spark import SparkConnectUnavailableError, get_spark_session

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    settings = make_settings(tmp_path, SPARK_REMOTE=f"sc://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(SparkConnectUnavailableError) as excinfo:
        get_spark_session(settings)
    # The Connect client alone retries with backoff for minutes before it reports anything.
    assert time.monotonic() - started < 10
    message = str(excinfo.value)
    assert f"sc://127.0.0.1:{port}" in message and "SPARK_REMOTE" in message
    assert "shopflow services up spark-connect" in message and "\n" not in message


def _read_spark_defaults() -> dict[str, str]:
    entries = {}
    for line in (PROJECT_ROOT / "spark" / "spark-defaults.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split(None, 1)
            entries[key] = value.strip()
    return entries


def test_spark_defaults_agree_with_spark_conf(tmp_path):
    """The Docker image's spark-defaults.conf must not drift from spark_conf() on shared keys."""
    defaults = _read_spark_defaults()
    conf = spark_conf(make_settings(tmp_path, **CREDENTIALS))
    for key in (
        "spark.sql.extensions",
        "spark.sql.catalog.spark_catalog",
        "spark.sql.session.timeZone",
        "spark.ui.showConsoleProgress",
        "spark.sql.shuffle.partitions",
        "spark.databricks.delta.snapshotPartitions",
        "spark.hadoop.fs.s3a.impl",
        "spark.hadoop.fs.s3a.path.style.access",
        "spark.hadoop.fs.s3a.endpoint.region",
    ):
        assert defaults[key] == conf[key], key
    assert not any("secret" in key or "access.key" in key for key in defaults)


def test_duckdb_secret_uses_host_port_path_style_and_ssl_flag(tmp_path):
    sql = s3_secret_sql(make_settings(tmp_path, S3_ENDPOINT_URL="http://127.0.0.1:9000", **CREDENTIALS))
    assert sql == (
        "CREATE OR REPLACE SECRET shopflow_lake (TYPE s3, KEY_ID 'shopflow-key', SECRET 'shopflow-secret', "
        "REGION 'us-east-1', ENDPOINT '127.0.0.1:9000', URL_STYLE 'path', USE_SSL false)"
    )
    assert "USE_SSL true" in s3_secret_sql(
        make_settings(tmp_path, S3_ENDPOINT_URL="https://s3.example.com", **CREDENTIALS)
    )
    assert s3_secret_sql(make_settings(tmp_path)) is None
    assert setup_sql(make_settings(tmp_path)) == ["LOAD httpfs", "LOAD delta"]


def test_dbt_profile_shares_file_extension_directory_and_keeps_credentials_out(tmp_path):
    settings = make_settings(tmp_path, **CREDENTIALS)
    profile = dbt_duckdb_profile(settings)
    assert profile["path"] == str(tmp_path / "warehouse.duckdb")
    assert profile["extensions"] == ["httpfs", "delta"]
    assert profile["config_options"]["extension_directory"] == str(tmp_path / "duckdb_extensions")
    assert profile["config_options"]["autoinstall_known_extensions"] is False
    (secret,) = profile["secrets"]
    assert secret["key_id"] == "{{ env_var('AWS_ACCESS_KEY_ID') }}"
    assert secret["secret"] == "{{ env_var('AWS_SECRET_ACCESS_KEY') }}"
    assert (
        secret["endpoint"] == "127.0.0.1:9000"
        and secret["url_style"] == "path"
        and secret["use_ssl"] is False
    )
    assert "shopflow-secret" not in repr(profile)


def test_kafka_config_per_role(tmp_path):
    settings = make_settings(tmp_path, KAFKA_BOOTSTRAP_SERVERS="10.0.0.5:9094")
    producer = kafka_client_config(settings, "producer", linger_ms=50)
    assert producer["bootstrap.servers"] == "10.0.0.5:9094"
    assert producer["enable.idempotence"] is True and producer["acks"] == "all"
    assert producer["linger.ms"] == 50
    consumer = kafka_client_config(settings, "consumer", group_id="clicks")
    assert consumer["group.id"] == "clicks" and consumer["enable.auto.commit"] is False
    assert kafka_client_config(settings, "admin") == {
        "bootstrap.servers": "10.0.0.5:9094",
        "client.id": "shopflow-admin",
    }
    assert spark_kafka_options(settings) == {"kafka.bootstrap.servers": "10.0.0.5:9094"}


def test_jdbc_options_from_settings(tmp_path):
    settings = make_settings(tmp_path, POSTGRES_HOST="db", POSTGRES_PORT="5433", POSTGRES_PASSWORD="pw")
    options = spark_jdbc_options(settings, "sales_order")
    assert options["url"] == "jdbc:postgresql://db:5433/shopflow"
    assert options["password"] == "pw" and options["driver"] == "org.postgresql.Driver"
    with pytest.raises(RuntimeError, match="POSTGRES_PASSWORD is not set"):
        spark_jdbc_options(make_settings(tmp_path), "sales_order")


def test_build_resources_per_environment(tmp_path, monkeypatch):
    local = build_resources(make_settings(tmp_path, SHOPFLOW_ENV="local"))
    assert tuple(sorted(local)) == tuple(sorted(RESOURCE_KEYS))
    assert local["lake"].backend == "local"
    docker = build_resources(make_settings(tmp_path, SHOPFLOW_ENV="docker", **CREDENTIALS))
    assert docker["lake"].backend == "s3"

    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("SHOPFLOW_ENV", "docker")
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    from shopflow_assets.settings import reload_settings

    reload_settings()
    try:
        assert isinstance(docker["lake"].get_lake(), S3Lake)
        assert isinstance(local["lake"].get_lake(), LocalLake)
    finally:
        monkeypatch.undo()
        reload_settings()


def test_building_resources_starts_nothing():
    """Loading definitions must stay cheap: no JVM, no boto3/duckdb/kafka client imported."""
    code = (
        "import sys; from shopflow_assets.resources import build_resources; build_resources(); "
        "print(sorted(m for m in ('pyspark', 'boto3', 'duckdb', 'confluent_kafka', 'psycopg') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_resources_carry_their_configuration_and_secrets_only_as_env_var_names(tmp_path, monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    settings = make_settings(
        tmp_path,
        SHOPFLOW_ENV="docker",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:29092",
        S3_ENDPOINT_URL="http://127.0.0.1:29000",
        LAKE_RETRY_ATTEMPTS="6",
        SHOPFLOW_OLIST_CSV_DIR=str(tmp_path / "olist"),
        **CREDENTIALS,
    )
    resources = build_resources(settings)
    assert resources["kafka"].bootstrap_servers == "127.0.0.1:29092"
    lake = resources["lake"]
    assert (lake.backend, lake.s3_endpoint_url, lake.retry_attempts) == ("s3", "http://127.0.0.1:29000", 6)
    assert resources["source_files"].olist_csv_dir == str(tmp_path / "olist")
    # What the Dagster UI shows of a resource: secrets by variable name, never by value.
    shown = {
        field: getattr(lake, field).__class__.__name__
        for field in ("aws_access_key_id", "aws_secret_access_key")
    }
    assert shown == {"aws_access_key_id": "EnvVar", "aws_secret_access_key": "EnvVar"}
    s3 = lake.get_lake()
    assert isinstance(s3, S3Lake)
    assert (s3.endpoint_url, s3.retry_attempts) == ("http://127.0.0.1:29000", 6)
    assert resources["kafka"].config("admin")["bootstrap.servers"] == "127.0.0.1:29092"


def test_spark_and_warehouse_resources_carry_their_setup_and_it_wins_over_the_settings(tmp_path, monkeypatch):
    settings = make_settings(
        tmp_path,
        SPARK_MASTER="spark://127.0.0.1:17077",
        SPARK_DRIVER_MEMORY="3g",
        SPARK_SHUFFLE_PARTITIONS="6",
        SHOPFLOW_DUCKDB_PATH=str(tmp_path / "wh" / "shop.duckdb"),
    )
    resources = build_resources(settings)
    spark, warehouse = resources["spark"], resources["warehouse"]
    assert (spark.master, spark.driver_memory, spark.shuffle_partitions) == (
        "spark://127.0.0.1:17077",
        "3g",
        6,
    )
    assert warehouse.duckdb_path == str(tmp_path / "wh" / "shop.duckdb")

    # The process settings say something else: what a session or connection gets is the resource's.
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("SHOPFLOW_DUCKDB_PATH", raising=False)
    monkeypatch.setenv("SPARK_MASTER", "local[1]")
    from shopflow_assets.settings import reload_settings

    reload_settings()
    try:
        conf = spark.conf_preview()
        assert (conf["spark.master"], conf["spark.driver.memory"]) == ("spark://127.0.0.1:17077", "3g")
        assert conf["spark.sql.shuffle.partitions"] == "6"
        assert warehouse.path == tmp_path / "wh" / "shop.duckdb"
        with warehouse.dbt_environment():
            import os

            assert os.environ["SHOPFLOW_DUCKDB_PATH"] == str(tmp_path / "wh" / "shop.duckdb")
        # A resource built by hand (fields None) follows the settings in force.
        from shopflow_assets.resources import SparkResource, WarehouseResource

        assert SparkResource().conf_preview()["spark.master"] == "local[1]"
        assert WarehouseResource().path == (tmp_path / "elsewhere" / "warehouse.duckdb").resolve()
    finally:
        monkeypatch.undo()
        reload_settings()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SHOPFLOW_ENV": "docker"}, "sc://127.0.0.1:15002"),  # the stack: runs attach
        ({"SHOPFLOW_ENV": "local"}, None),  # the embedded default never needs the server
        (
            {"SHOPFLOW_ENV": "local", "SHOPFLOW_WARM_DRIVER": "on", "SPARK_CONNECT_PORT": "25002"},
            "sc://127.0.0.1:25002",
        ),
        ({"SHOPFLOW_ENV": "docker", "SHOPFLOW_WARM_DRIVER": "off"}, None),
        ({"SHOPFLOW_ENV": "docker", "SPARK_CONNECT_HOST": "spark-connect"}, "sc://spark-connect:15002"),
        # A cluster's endpoint wins: the resource uses `remote`, the warm driver is not asked for.
        ({"SHOPFLOW_ENV": "docker", "SPARK_REMOTE": "sc://cluster:15002"}, None),
    ],
)
def test_runs_attach_to_the_warm_driver_on_the_stack_only(tmp_path, env, expected):
    settings = make_settings(tmp_path, **env)
    assert settings.warm_driver_url == expected
    spark = build_resources(settings)["spark"]
    assert (spark.warm_driver, spark.remote) == (expected, env.get("SPARK_REMOTE"))
