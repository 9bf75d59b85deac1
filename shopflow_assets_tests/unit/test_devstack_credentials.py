"""Local credentials: generated once into <SHOPFLOW_HOME>/generated.env, stable, never overriding the user's."""

import stat

import pytest

from shopflow_assets.devstack.credentials import (
    CREDENTIAL_FIELDS,
    complete_credentials,
    ensure_credentials,
    generated_env_path,
    parse_env_file,
    render_env_file,
)
from shopflow_assets.settings import Settings, reload_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def _settings_cache():
    yield
    # ensure_credentials() reloads the cached settings; after monkeypatch restored the environment
    # (reverse teardown order), reload again so later tests see the real settings.
    reload_settings()


@pytest.fixture(autouse=True)
def _no_credentials_in_environment(_settings_cache, monkeypatch):
    for var in CREDENTIAL_FIELDS:
        monkeypatch.delenv(var, raising=False)


def _fresh(home, **overrides) -> Settings:
    # What a new process sees: the generated file (if any) is read like settings.get_settings() reads it.
    return Settings(_env_file=str(home / "generated.env"), SHOPFLOW_HOME=str(home), **overrides)


def test_missing_credentials_are_generated_into_a_private_file(tmp_path):
    settings, generated = ensure_credentials(_fresh(tmp_path))
    assert sorted(generated) == sorted(CREDENTIAL_FIELDS)
    path = generated_env_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = parse_env_file(path.read_text())
    assert values["AWS_ACCESS_KEY_ID"] == settings.secret("aws_access_key_id")
    assert values["AWS_SECRET_ACCESS_KEY"] == settings.secret("aws_secret_access_key")
    assert values["POSTGRES_PASSWORD"] == settings.secret("postgres_password")
    assert len(settings.secret("aws_secret_access_key")) >= 32
    assert len(settings.secret("postgres_password")) >= 32


def test_credentials_are_stable_across_calls_and_processes(tmp_path):
    first, _ = ensure_credentials(_fresh(tmp_path))
    text_before = generated_env_path(first).read_text()
    # A later start reads the file and generates nothing.
    second, generated = ensure_credentials(_fresh(tmp_path))
    assert generated == []
    # Even settings that did not read the file get the same values from it, not new ones.
    third, generated = ensure_credentials(Settings(_env_file=None, SHOPFLOW_HOME=str(tmp_path)))
    assert generated == []
    for field in CREDENTIAL_FIELDS.values():
        assert first.secret(field) == second.secret(field) == third.secret(field)
    assert generated_env_path(first).read_text() == text_before


def test_values_set_by_the_user_win_and_are_not_written(tmp_path, monkeypatch):
    monkeypatch.setenv("POSTGRES_PASSWORD", "from-the-environment")
    settings, generated = ensure_credentials(_fresh(tmp_path))
    assert sorted(generated) == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "MINIO_ROOT_PASSWORD",
        "MINIO_ROOT_USER",
        "POSTGRES_READER_PASSWORD",
    ]
    assert settings.secret("postgres_password") == "from-the-environment"
    assert "POSTGRES_PASSWORD" not in parse_env_file(generated_env_path(settings).read_text())


def test_nothing_is_written_when_everything_is_set(tmp_path):
    settings = _fresh(
        tmp_path,
        AWS_ACCESS_KEY_ID="key",
        AWS_SECRET_ACCESS_KEY="secret-123",
        POSTGRES_PASSWORD="pw",
        MINIO_ROOT_USER="root",
        MINIO_ROOT_PASSWORD="root-secret",
        POSTGRES_READER_PASSWORD="rpw",
    )
    same, generated = ensure_credentials(settings)
    assert generated == [] and same is settings
    assert not generated_env_path(settings).exists()


def test_two_homes_get_different_credentials(tmp_path):
    one, _ = ensure_credentials(_fresh(tmp_path / "one"))
    two, _ = ensure_credentials(_fresh(tmp_path / "two"))
    assert one.secret("postgres_password") != two.secret("postgres_password")


def test_env_file_round_trip_and_completion():
    values = {"B": "2", "A": "x=y"}
    text = render_env_file(values)
    assert text.startswith("#")
    assert parse_env_file(text) == values
    completed = complete_credentials(
        {"AWS_ACCESS_KEY_ID": "kept"}, ["AWS_ACCESS_KEY_ID", "POSTGRES_PASSWORD"]
    )
    assert completed["AWS_ACCESS_KEY_ID"] == "kept"
    assert completed["POSTGRES_PASSWORD"]


def test_a_stack_from_before_the_pipeline_user_keeps_its_root_and_gets_a_pipeline_key(tmp_path):
    """The old generated AWS_* pair was MinIO's root: it becomes MINIO_ROOT_*, AWS_* is new."""
    old = {
        "AWS_ACCESS_KEY_ID": "shopflowold",
        "AWS_SECRET_ACCESS_KEY": "old-secret-1",
        "POSTGRES_PASSWORD": "pw",
    }
    generated_env_path(_fresh(tmp_path)).parent.mkdir(parents=True, exist_ok=True)
    generated_env_path(_fresh(tmp_path)).write_text(render_env_file(old))
    settings, generated = ensure_credentials(_fresh(tmp_path))
    assert sorted(generated) == sorted(
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "MINIO_ROOT_USER",
            "MINIO_ROOT_PASSWORD",
            "POSTGRES_READER_PASSWORD",
        ]
    )
    assert settings.minio_root_user == "shopflowold"
    assert settings.secret("minio_root_password") == "old-secret-1"
    assert settings.aws_access_key_id.startswith("shopflow") and settings.aws_access_key_id != "shopflowold"
    assert settings.secret("postgres_password") == "pw"
    again, generated = ensure_credentials(_fresh(tmp_path))
    assert generated == [] and again.aws_access_key_id == settings.aws_access_key_id
