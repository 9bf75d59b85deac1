"""Rendering of the service configurations, and address handling, without starting anything."""

import base64
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from shopflow_assets.devstack.base import DevstackError
from shopflow_assets.devstack.kafka import (
    KafkaService,
    kafka_version,
    new_cluster_id,
    render_server_properties,
)
from shopflow_assets.devstack.minio import MinioService, validate_root_credentials
from shopflow_assets.devstack.postgres import (
    ensure_traversable,
    find_bin_dir,
    quote_ident,
    quote_literal,
    render_bootstrap_sql,
    render_pg_hba,
    render_postgresql_conf,
)
from shopflow_assets.devstack.spark_connect import SparkConnectService, remote_url
from shopflow_assets.devstack.stack import select
from shopflow_assets.settings import Settings

pytestmark = pytest.mark.unit


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.fixture
def settings(tmp_path, monkeypatch):
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_CONTROLLER_PORT", "S3_ENDPOINT_URL", "POSTGRES_PORT"):
        monkeypatch.delenv(var, raising=False)
    return Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path))


def test_kafka_properties_use_the_configured_listener_and_controller(tmp_path):
    settings = Settings(
        _env_file=None,
        SHOPFLOW_HOME=str(tmp_path),
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:29092",
        KAFKA_CONTROLLER_PORT=29093,
    )
    props = _properties(render_server_properties(settings, tmp_path / "kafka-data"))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert props["log.dirs"] == str(tmp_path / "kafka-data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["auto.create.topics.enable"] == "true"


def test_kafka_version_comes_from_the_pom():
    version = kafka_version()
    assert re.fullmatch(r"(4\.\d+|3\.9)\.\d+", version), version


def test_kafka_version_missing_in_pom_is_a_clear_error(tmp_path):
    pom = tmp_path / "pom.xml"
    pom.write_text('<project xmlns="http://maven.apache.org/POM/4.0.0"><properties/></project>')
    with pytest.raises(DevstackError, match="has no <kafka.version>"):
        kafka_version(pom)


def test_cluster_ids_are_kafka_uuids():
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_service_ports_follow_settings(tmp_path):
    settings = Settings(
        _env_file=None,
        SHOPFLOW_HOME=str(tmp_path),
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:29092",
        KAFKA_CONTROLLER_PORT=29093,
        S3_ENDPOINT_URL="http://127.0.0.1:29000/",
        MINIO_CONSOLE_ADDRESS="127.0.0.1:29001",
    )
    assert KafkaService().ports(settings) == [("127.0.0.1", 29092), ("127.0.0.1", 29093)]
    assert KafkaService().address(settings) == "127.0.0.1:29092"
    assert MinioService().ports(settings) == [("127.0.0.1", 29000), ("127.0.0.1", 29001)]
    assert MinioService().address(settings) == "http://127.0.0.1:29000"


def test_service_paths_live_in_shopflow_home(settings):
    kafka = KafkaService()
    assert kafka.pid_file(settings) == settings.home / "services" / "kafka.pid"
    assert kafka.log_file(settings) == settings.home / "logs" / "kafka.log"
    assert kafka.data_dir(settings) == settings.home / "services" / "kafka"


def test_minio_root_credentials_are_validated():
    validate_root_credentials("shopflow", "12345678")
    with pytest.raises(DevstackError, match="MINIO_ROOT_USER"):
        validate_root_credentials("ab", "12345678")
    with pytest.raises(DevstackError, match="MINIO_ROOT_PASSWORD"):
        validate_root_credentials("abc", "short")


def test_postgres_conf_listens_only_where_settings_say(tmp_path):
    settings = Settings(
        _env_file=None, SHOPFLOW_HOME=str(tmp_path), POSTGRES_HOST="127.0.0.1", POSTGRES_PORT=25432
    )
    conf = render_postgresql_conf(settings, tmp_path / "sock")
    assert "listen_addresses = '127.0.0.1'" in conf
    assert "port = 25432" in conf
    assert f"unix_socket_directories = '{tmp_path / 'sock'}'" in conf
    assert "password_encryption = 'scram-sha-256'" in conf


def test_pg_hba_allows_password_logins_and_peer_only_for_the_owner():
    lines = [line.split() for line in render_pg_hba("postgres").splitlines() if not line.startswith("#")]
    assert ["local", "all", '"postgres"', "peer"] in lines
    assert ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"] in lines
    assert not [line for line in lines if line[-1] in ("trust", "md5", "password")]


def test_sql_quoting_doubles_quotes():
    assert quote_literal("it's") == "'it''s'"
    assert quote_ident('we"ird') == '"we""ird"'


def test_bootstrap_sql_is_idempotent_and_never_holds_the_password():
    sql = render_bootstrap_sql("shop flow", "pa'ss", "shop_db")
    assert "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shop flow')\\gexec" in sql
    assert 'ALTER ROLE "shop flow" WITH LOGIN CREATEDB PASSWORD \'SCRAM-SHA-256$4096:' in sql
    assert "pa'ss" not in sql and "pa''ss" not in sql
    assert sql.startswith("SET log_statement = 'none';\nSET log_min_error_statement = 'panic';\n")
    assert "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'shop_db')\\gexec" in sql


def test_find_bin_dir_picks_the_highest_version(tmp_path):
    for version in ("9", "13", "15"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "postgres").touch()
    (tmp_path / "17" / "bin").mkdir(parents=True)  # a client-only install has no server binary
    assert find_bin_dir(tmp_path) == tmp_path / "15" / "bin"


def test_missing_postgres_server_names_the_package(tmp_path):
    with pytest.raises(DevstackError, match="apt-get install postgresql"):
        find_bin_dir(tmp_path)


def test_select_keeps_start_order_and_rejects_unknown_names():
    assert [service.name for service in select(None)] == ["kafka", "spark-connect", "minio", "postgres"]
    assert [service.name for service in select(["postgres", "kafka"])] == ["kafka", "postgres"]
    with pytest.raises(
        DevstackError, match="unknown service redis: choose from kafka, spark-connect, minio, postgres"
    ):
        select(["redis"])


def test_spark_connect_server_listens_on_loopback_with_its_own_heap_and_no_secret_in_argv(tmp_path):
    settings = Settings(
        _env_file=None,
        SHOPFLOW_HOME=str(tmp_path),
        SPARK_CONNECT_PORT=25002,
        SPARK_CONNECT_MASTER="local[1]",
        SPARK_CONNECT_DRIVER_MEMORY="1500m",
        SPARK_DRIVER_MEMORY="6g",
        SPARK_REMOTE="sc://127.0.0.1:25002",  # the runs' setting must not make the server a client
        AWS_ACCESS_KEY_ID="pipeline",
        AWS_SECRET_ACCESS_KEY="not-on-the-command-line",
    )
    service = SparkConnectService()
    assert service.ports(settings) == [("127.0.0.1", 25002)]
    assert service.address(settings) == remote_url(settings) == "sc://127.0.0.1:25002"
    spec = service.launch_spec(settings)
    argv = list(spec.argv)
    assert argv[argv.index("--master") + 1] == "local[1]"
    assert "spark.connect.grpc.binding.address=127.0.0.1" in argv
    assert "spark.connect.grpc.binding.port=25002" in argv
    assert "spark.driver.memory=1500m" in argv
    assert not any("not-on-the-command-line" in part for part in argv)
    properties = Path(argv[argv.index("--properties-file") + 1])
    # In the service's own directory: `down` recognises the process by it, and only the owner reads it.
    assert properties.parent == service.data_dir(settings)
    assert stat.S_IMODE(properties.stat().st_mode) == 0o600
    assert "not-on-the-command-line" in properties.read_text()
    assert spec.env["PYSPARK_PYTHON"]  # foreachBatch workers run the project's interpreter


def _postgres_user_exists() -> bool:
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


@pytest.mark.skipif(
    os.geteuid() != 0 or not _postgres_user_exists(), reason="needs root and the postgres user"
)
def test_postgres_user_is_let_into_our_directories_but_not_others():
    outside = Path(tempfile.mkdtemp(prefix="shopflow-traverse-", dir="/tmp"))  # mode 700, not ours
    try:
        home = outside / "home"
        cluster = home / "services" / "postgres"
        cluster.mkdir(parents=True)
        os.chmod(home, 0o700)
        with pytest.raises(DevstackError, match=f"cannot enter {outside} .*chmod o\\+x {outside}"):
            ensure_traversable(cluster, "postgres", home)
        os.chmod(outside, 0o711)
        ensure_traversable(cluster, "postgres", home)
        assert stat.S_IMODE(home.stat().st_mode) & stat.S_IXOTH
        assert stat.S_IMODE(home.stat().st_mode) & stat.S_IROTH == 0  # only traversal, not listing
    finally:
        shutil.rmtree(outside)
