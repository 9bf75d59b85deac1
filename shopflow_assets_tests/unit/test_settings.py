import pytest

from shopflow_assets.settings import Settings

pytestmark = pytest.mark.unit


def test_defaults_are_the_embedded_local_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPFLOW_ENV", raising=False)
    settings = Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path))
    assert settings.env == "local"
    assert not settings.uses_s3
    assert settings.local_lake_dir == (tmp_path / "lake").resolve()
    assert settings.warehouse_path == (tmp_path / "warehouse.duckdb").resolve()
    assert settings.services_dir == tmp_path / "services"


def test_environment_variables_override_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPFLOW_ENV", "docker")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:19092")
    monkeypatch.setenv("POSTGRES_PORT", "6543")
    settings = Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path))
    assert settings.uses_s3
    assert settings.s3_host_port == "minio:9000"
    assert settings.kafka_bootstrap_servers == "kafka:19092"
    assert settings.postgres_port == 6543
    assert settings.postgres_jdbc_url == "jdbc:postgresql://127.0.0.1:6543/shopflow"


def test_env_file_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    env_file = tmp_path / "generated.env"
    env_file.write_text("AWS_ACCESS_KEY_ID=from-file\n")
    settings = Settings(_env_file=str(env_file))
    assert settings.secret("aws_access_key_id") == "from-file"


def test_missing_credential_names_the_variable(monkeypatch):
    monkeypatch.delenv("POSTGRES_PASSWORD", raising=False)
    settings = Settings(_env_file=None)
    with pytest.raises(RuntimeError, match="POSTGRES_PASSWORD is not set"):
        settings.secret("postgres_password")


def test_unknown_environment_is_rejected(monkeypatch):
    monkeypatch.setenv("SHOPFLOW_ENV", "prod-typo")
    with pytest.raises(ValueError, match="SHOPFLOW_ENV"):
        Settings(_env_file=None)
