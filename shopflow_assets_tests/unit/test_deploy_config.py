"""deploy/helm: the Dagster chart's values for this project, checked statically (no cluster here)."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

HELM = PROJECT_ROOT / "deploy" / "helm"


def _pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def test_dagster_values_serve_the_project_with_postgres_storage_and_k8s_runs():
    values = yaml.safe_load((HELM / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    module = _pyproject()["tool"]["dagster"]["module_name"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module]
    assert {"name": "shopflow-secrets"} in deployment["envSecrets"]
    assert {"name": "shopflow-settings"} in deployment["envConfigMaps"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    # the image is filled in by envsubst, as docs/deploy.md does: --set would replace the whole list
    assert deployment["image"]["repository"] == "${SHOPFLOW_IMAGE_REPOSITORY}"
    assert deployment["image"]["tag"] == "${SHOPFLOW_IMAGE_TAG}"
    assert (
        "envsubst '$SHOPFLOW_IMAGE_REPOSITORY $SHOPFLOW_IMAGE_TAG' < deploy/helm/values.yaml"
        in (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    )
    # storage in the external PostgreSQL, its password only from an existing secret
    assert values["postgresql"]["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert {"name": "shopflow-secrets"} in launcher["envSecrets"]
    # the same tag limit as docker/dagster.yaml: the Olist lake has one writer at a time
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"][
        "tagConcurrencyLimits"
    ]
    assert {"key": "shopflow/olist-lake", "limit": 1} in limits


def test_the_chart_version_is_the_dagster_pin_and_the_image_has_dagster_k8s():
    dependencies = _pyproject()["project"]["dependencies"]
    dagster = next(d for d in dependencies if d.startswith("dagster=="))
    version = dagster.split("==")[1]
    assert f"version {version}" in (HELM / "values.yaml").read_text()
    assert f"--version {version}" in (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    postgres_pin = next(d for d in dependencies if d.startswith("dagster-postgres==")).split("==")[1]
    assert f"dagster-k8s=={postgres_pin}" in _pyproject()["project"]["optional-dependencies"]["k8s"]
    assert "--extra k8s" in (PROJECT_ROOT / "deploy" / "Dockerfile").read_text()


def test_no_literal_secret_in_the_values():
    for path in HELM.glob("*.yaml"):
        text = path.read_text()
        assert not re.search(r"(?i)(password|secret_?key|access_?key)\s*:\s*['\"]?[A-Za-z0-9+/]{8,}", text), (
            path
        )
