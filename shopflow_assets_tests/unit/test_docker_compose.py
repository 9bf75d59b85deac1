"""docker-compose.yml cannot be run here (no Docker engine), so it is checked statically."""

import re

import pytest
import yaml

from shopflow_assets.settings import BUCKETS, PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|ACCESS_KEY|TOKEN)", re.IGNORECASE)
VAR_REF = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_every_part_of_the_stack_is_a_service(compose):
    expected = {
        "kafka",
        "minio",
        "minio-init",
        "postgres",
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
        "spark-history",
        "spark-connect",
        "dagster-webserver",
        "dagster-daemon",
        "dashboard",
    }
    assert expected <= set(compose["services"])


def test_long_running_services_have_healthchecks(compose):
    for name in (
        "kafka",
        "minio",
        "postgres",
        "spark-master",
        "spark-history",
        "spark-connect",
        "dagster-webserver",
    ):
        assert "healthcheck" in compose["services"][name], f"{name} has no healthcheck"


def test_bucket_bootstrap_creates_every_bucket(compose):
    script = " ".join(compose["services"]["minio-init"]["command"])
    for bucket in BUCKETS:
        assert bucket in script, f"minio-init does not create bucket {bucket}"


def test_no_literal_secrets(compose):
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert VAR_REF.fullmatch(value), f"{name}.{key} must come from .env, found a literal value"


def test_published_ports_bind_to_loopback(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_every_referenced_variable_is_documented():
    documented = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    referenced = set(VAR_REF.findall(COMPOSE.read_text()))
    missing = referenced - documented
    assert not missing, f"variables used by docker-compose.yml but not in .env.example: {sorted(missing)}"


def test_dependencies_point_at_defined_services(compose):
    services = set(compose["services"])
    for name, service in compose["services"].items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_dashboard_reads_the_warehouse_volume_read_only_and_takes_its_secrets_from_env(compose):
    dashboard = compose["services"]["dashboard"]
    assert dashboard["build"]["dockerfile"] == "dashboard/Dockerfile"
    assert (COMPOSE.parent / "dashboard" / "Dockerfile").is_file()
    state = next(v for v in dashboard["volumes"] if v.startswith("shopflow-state:"))
    assert state.endswith(":ro")
    mount = state.split(":")[1]
    env = dashboard["environment"]
    assert env["SHOPFLOW_DASHBOARD_WAREHOUSE"].startswith(mount + "/")
    # The snapshot Superset queries lives in the dashboard's own, writable volume.
    assert not env["SHOPFLOW_DASHBOARD_SNAPSHOT"].startswith(mount + "/")
    for secret in ("SUPERSET_SECRET_KEY", "SUPERSET_ADMIN_PASSWORD"):
        assert env[secret].startswith("${") and ":?" in env[secret], secret
    assert "/health" in " ".join(dashboard["healthcheck"]["test"])
    # PostgreSQL (ERP reports) through the read-only login only: the owner's password is not there.
    assert env["POSTGRES_READER_PASSWORD"].startswith("${") and ":?" in env["POSTGRES_READER_PASSWORD"]
    assert "POSTGRES_PASSWORD" not in env and "POSTGRES_USER" not in env


def test_the_spark_cluster_has_two_workers_a_history_server_and_a_connect_server(compose):
    services = compose["services"]
    for worker in ("spark-worker-1", "spark-worker-2"):
        assert services[worker]["command"][-1] == "spark://spark-master:7077"
    history_dir = "file:/opt/shopflow/spark-events"
    assert history_dir in services["spark-history"]["environment"]["SPARK_HISTORY_OPTS"]
    # Drivers write their event logs where the history server reads them.
    assert _environment(services["dagster-daemon"])["SPARK_EVENT_LOG_DIR"] == history_dir
    for name in ("spark-history", "dagster-daemon", "dagster-webserver", "spark-connect"):
        assert any(v.startswith("spark-events:") for v in services[name]["volumes"]), name
    assert services["spark-connect"]["command"][:3] == ["shopflow", "spark", "connect-server"]
    assert _environment(services["spark-connect"])["SPARK_MASTER"] == "spark://spark-master:7077"


def test_postgres_creates_the_source_and_warehouse_databases_with_a_reader(compose):
    postgres = compose["services"]["postgres"]
    assert "./docker/postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    script = (PROJECT_ROOT / "docker" / "postgres-init" / "10-shopflow-databases.sh").read_text()
    for database in ("totesys", "rainforest", "warehouse"):
        assert database in script
    assert "default_transaction_read_only = on" in script
    assert "POSTGRES_READER_PASSWORD" in _environment(postgres)
