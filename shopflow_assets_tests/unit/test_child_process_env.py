"""A run's process, dbt and Spark's JVM never hold MinIO's root key; dbt and the JVM never hold a
PostgreSQL or alert secret either (settings.RESOURCE_ENV says which resource reads what)."""

import json
import os
import subprocess  # nosec B404 # reads the environment a child process gets
import sys
from pathlib import Path

import pytest

from shopflow_assets.settings import CHILD_PROCESS_SECRETS, export_env_files, reload_settings

pytestmark = pytest.mark.unit

GENERATED = {
    "AWS_ACCESS_KEY_ID": "pipeline-user",
    "AWS_SECRET_ACCESS_KEY": "pipeline-secret-5e1",
    "MINIO_ROOT_USER": "root-user",
    "MINIO_ROOT_PASSWORD": "root-secret-9a2",
    "POSTGRES_PASSWORD": "owner-secret-77c",
    "POSTGRES_READER_PASSWORD": "reader-secret-31d",
}


@pytest.fixture
def stack_home(tmp_path, monkeypatch):
    """A SHOPFLOW_HOME whose generated.env holds every credential `services up` writes, none in os.environ."""
    (tmp_path / "generated.env").write_text("".join(f"{k}={v}\n" for k, v in GENERATED.items()))
    monkeypatch.chdir(tmp_path)  # no project .env
    monkeypatch.setenv("SHOPFLOW_HOME", str(tmp_path))
    for name in {*GENERATED, *CHILD_PROCESS_SECRETS}:
        monkeypatch.delenv(name, raising=False)
    settings = reload_settings()
    yield settings
    export_env_files()  # takes back what this test exported, before the environment is restored
    monkeypatch.undo()
    reload_settings()


def _child_env() -> dict[str, str]:
    out = subprocess.run(  # nosec B603 # fixed arguments
        [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def test_the_run_process_gets_what_its_resources_read_and_never_minios_root(stack_home):
    exported = export_env_files()
    assert "MINIO_ROOT_USER" not in os.environ and "MINIO_ROOT_PASSWORD" not in os.environ
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "pipeline-secret-5e1"  # lake
    assert os.environ["POSTGRES_PASSWORD"] == "owner-secret-77c"  # postgres (ERP assets and sensors)
    assert os.environ["POSTGRES_READER_PASSWORD"] == "reader-secret-31d"  # postgres_reader
    assert set(exported) == {k for k in GENERATED if not k.startswith("MINIO_ROOT")}
    # The settings still see the root key where `services up` needs it: read from the file, not the env.
    assert stack_home.minio_root_user == "root-user"


def test_dbt_inherits_the_pipeline_user_only(stack_home):
    from shopflow_assets.resources.warehouse import WarehouseResource

    export_env_files()
    with WarehouseResource().dbt_environment():
        env = _child_env()
    assert (
        env["AWS_ACCESS_KEY_ID"] == "pipeline-user" and env["AWS_SECRET_ACCESS_KEY"] == "pipeline-secret-5e1"
    )
    leaked = {name for name in CHILD_PROCESS_SECRETS if name in env}
    assert not leaked, f"dbt would inherit {sorted(leaked)}"
    assert os.environ["POSTGRES_PASSWORD"] == "owner-secret-77c"  # back for the run's own resources


def test_sparks_jvm_inherits_no_postgres_alert_or_root_secret(stack_home):
    from pyspark import SparkContext

    from shopflow_assets.resources.spark import get_spark_session, stop_spark_session

    export_env_files()
    os.environ["MINIO_ROOT_PASSWORD"] = "root-secret-9a2"  # even one a user exported in the shell
    stop_spark_session()
    try:
        get_spark_session(stack_home)
        jvm = SparkContext._gateway.proc.pid
        raw = Path(f"/proc/{jvm}/environ").read_bytes().split(b"\0")
        names = {item.split(b"=", 1)[0].decode() for item in raw if item}
    finally:
        stop_spark_session()
        os.environ.pop("MINIO_ROOT_PASSWORD", None)
    leaked = names & set(CHILD_PROCESS_SECRETS)
    assert not leaked, f"Spark's JVM inherits {sorted(leaked)}"
