"""docker-compose.yml cannot be run here (no Docker engine), so it is checked statically."""

import re

import pytest
import yaml

from shopflow_assets.settings import BUCKETS, PROJECT_ROOT

pytestmark = pytest.mark.unit

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
        "airflow-init",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
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
        "airflow-api-server",
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


AIRFLOW_SERVICES = ("airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor")


def test_airflow_runs_on_its_own_image_with_its_metadata_in_its_own_postgres_database(compose):
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert (
            service["image"] == "shopflow-airflow:local"
            and service["build"]["dockerfile"] == "airflow/Dockerfile"
        )
        env = _environment(service)
        connection = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert connection.startswith(
            "postgresql+psycopg2://${AIRFLOW_DB_USER:-airflow}:${AIRFLOW_DB_PASSWORD:?"
        )
        assert connection.endswith("@postgres:5432/airflow")  # its own database, not ShopFlow's
        for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
            assert VAR_REF.fullmatch(env[key]), f"{name}.{key} must come from .env"
        # The DAG tasks run ShopFlow commands: the same stack settings as the Dagster services.
        assert env["SHOPFLOW_ENV"] == "docker" and env["DAGSTER_HOME"] == "/opt/dagster/home"
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/shopflow/airflow/dags"
        assert "dagster-home:/opt/dagster/home" in service["volumes"]
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-init": ["airflow", "db", "migrate"],
        "airflow-api-server": ["airflow", "api-server", "--port", "8080"],
        "airflow-scheduler": ["airflow", "scheduler"],
        "airflow-dag-processor": ["airflow", "dag-processor"],
    }
    assert services["airflow-api-server"]["depends_on"]["airflow-init"] == {
        "condition": "service_completed_successfully"
    }
    assert services["airflow-init"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_postgres_creates_airflows_database_and_role_on_first_start(compose):
    postgres = compose["services"]["postgres"]
    assert "./docker/postgres-init:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    env = _environment(postgres)
    assert VAR_REF.fullmatch(env["AIRFLOW_DB_PASSWORD"])
    script = (PROJECT_ROOT / "docker" / "postgres-init" / "20-airflow-database.sh").read_text()
    assert "CREATE DATABASE airflow OWNER %I" in script and ":'airflow_password'" in script
    assert "REVOKE CONNECT ON DATABASE airflow FROM PUBLIC;" in script  # ShopFlow's reader stays out


def test_postgres_closes_every_database_to_public_and_lets_the_reader_into_its_sources_only():
    script = (PROJECT_ROOT / "docker" / "postgres-init" / "10-shopflow-databases.sh").read_text()
    assert "SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', d)" in script
    assert "unnest(array['totesys', 'rainforest', 'warehouse', 'postgres', :'shopflow_db'])" in script
    assert '-v shopflow_db="$POSTGRES_DB"' in script
    assert "for db in totesys rainforest warehouse; do" in script
    assert 'GRANT CONNECT ON DATABASE :"db" TO :"reader";' in script


def test_airflow_image_builds_on_the_shopflow_image_with_airflow_in_its_own_venv():
    dockerfile = (PROJECT_ROOT / "airflow" / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM shopflow-dagster" in dockerfile
    assert "bash airflow/install.sh" in dockerfile and "UV_NO_SYNC=1" in dockerfile


def test_images_never_receive_local_credentials_or_state():
    ignored = {line.rstrip("/") for line in (PROJECT_ROOT / ".dockerignore").read_text().split()}
    assert {".env", ".shopflow", ".venv", "airflow/.venv"} <= ignored


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
    # The dashboards' ERP reports: in the warehouse the reader reads every schema (`erp` too).
    warehouse_part = script.split("-d warehouse")[-1]
    assert 'GRANT USAGE ON SCHEMAS TO :"reader"' in warehouse_part
    assert 'GRANT SELECT ON TABLES TO :"reader"' in warehouse_part


def test_minio_root_sets_up_and_the_pipeline_runs_as_its_own_user(compose):
    """Root only in minio and minio-init; raw-data versioned; the user gets the policy the native stack uses."""
    import json

    from shopflow_assets.devstack.minio_iam import PIPELINE_POLICY, pipeline_policy

    for name, service in compose["services"].items():
        env = _environment(service)
        if name not in ("minio", "minio-init"):
            assert not any(key.startswith("MINIO_ROOT") for key in env), f"{name} sees MinIO's root key"
    assert _environment(compose["services"]["minio"])["MINIO_ROOT_USER"].startswith("${MINIO_ROOT_USER")
    script = " ".join(compose["services"]["minio-init"]["command"])
    assert '"$$MINIO_ROOT_USER" "$$MINIO_ROOT_PASSWORD"' in script
    assert "mc version enable lake/raw-data" in script
    # raw-data locked as the native stack locks it (devstack/minio_iam.RAW_RETENTION_DAYS, governance)
    from shopflow_assets.devstack.minio_iam import RAW_RETENTION_DAYS

    assert "mc mb --ignore-existing --with-lock lake/raw-data" in script
    assert f"mc retention set --default GOVERNANCE {RAW_RETENTION_DAYS}d lake/raw-data" in script
    assert f"mc admin policy create lake {PIPELINE_POLICY} /etc/shopflow/pipeline-policy.json" in script
    assert 'mc admin user add lake "$$AWS_ACCESS_KEY_ID"' in script
    mount = compose["services"]["minio-init"]["volumes"][0]
    host_path = PROJECT_ROOT / mount.split(":")[0]
    assert json.loads(host_path.read_text()) == pipeline_policy()


# The Compose Specification's own JSON schema (Apache-2.0, origin in shopflow_assets_tests/data/README.md).
COMPOSE_SCHEMA = PROJECT_ROOT / "shopflow_assets_tests" / "data" / "compose-spec.json"
# Settings that name a directory or file a service writes at run time: it must be on a volume, or the
# write fails (Spark refuses to start when its event-log directory is missing) or is lost with the container.
STATE_PATHS = ("SHOPFLOW_HOME", "DAGSTER_HOME", "SPARK_EVENT_LOG_DIR", "SHOPFLOW_DASHBOARD_SNAPSHOT")


def test_the_file_is_valid_against_the_compose_specification_schema(compose):
    import json

    import jsonschema

    schema = json.loads(COMPOSE_SCHEMA.read_text())
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda error: list(error.absolute_path)
    )
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def _mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume in short ("src:dst[:mode]") or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((volume.get("source", ""), volume["target"]))
        else:
            source, target = str(volume).split(":")[:2]
            mounts.append((source, target))
    return mounts


def test_every_named_volume_and_secret_a_service_uses_is_defined(compose):
    volumes, secrets = set(compose.get("volumes") or {}), set(compose.get("secrets") or {})
    for name, service in compose["services"].items():
        for source, _ in _mounts(service):
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in volumes, f"{name} mounts the undefined named volume {source}"
        for secret in service.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            assert secret_name in secrets, f"{name} uses the undefined secret {secret_name}"
    used = {source for service in compose["services"].values() for source, _ in _mounts(service)}
    assert volumes <= used, f"volumes defined but never mounted: {sorted(volumes - used)}"


def test_every_variable_has_a_default_or_fails_with_a_message():
    # `${VAR}` with neither `:-default` nor `:?message` silently becomes "" when .env lacks it.
    for match in re.finditer(r"(?<!\$)\$\{([A-Z0-9_]+)([^}]*)\}", COMPOSE.read_text()):
        assert match.group(2).startswith((":-", "-", ":?", "?")), f"${{{match.group(1)}}} has no default"


def test_every_state_path_a_service_is_given_is_on_a_volume(compose):
    unmounted = []
    for name, service in compose["services"].items():
        env, targets = _environment(service), [target for _, target in _mounts(service)]
        for key in STATE_PATHS:
            path = env.get(key, "").removeprefix("file:")
            if path and not any(path == t or path.startswith(t.rstrip("/") + "/") for t in targets):
                unmounted.append(f"{name}: {key}={env[key]}")
    assert not unmounted, f"paths not on any volume of their service: {unmounted}"


def test_dagster_runs_attach_to_the_compose_warm_driver(compose):
    from shopflow_assets.settings import Settings

    services = compose["services"]
    connect = services["spark-connect"]
    port = connect["command"][connect["command"].index("--port") + 1]
    for name in ("dagster-webserver", "dagster-daemon"):
        env = _environment(services[name])
        settings = Settings(
            _env_file=None,
            **{k: v for k, v in env.items() if k.startswith(("SHOPFLOW_ENV", "SPARK_CONNECT"))},
        )
        assert settings.warm_driver_url == f"sc://spark-connect:{port}", name
    # Runs are launched from the webserver and the daemon: neither may start before the server answers.
    assert services["dagster-webserver"]["depends_on"]["spark-connect"] == {"condition": "service_healthy"}
    assert "healthcheck" in connect
