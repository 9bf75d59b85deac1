"""The Olist dbt models as dagster-dbt builds them: `shopflow dbt-prepare` writes their specs, and a run of
`olist_dbt_models` builds this definition to run dbt (domains/dbt.py). Imports dagster-dbt and dbt-core, so
the code location never imports this module when it loads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from shopflow_assets.domains.dbt import MANIFEST_PATH, dbt_project
from shopflow_assets.domains.marketplace import RETRY, key
from shopflow_assets.domains.marketplace.gold import OLIST_SELECT


class OlistDbtTranslator(DagsterDbtTranslator):
    """Olist dbt models under marketplace/<model>; sources map to the silver assets via meta.dagster."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return key(dbt_resource_props["name"])


def build() -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=MANIFEST_PATH,
        project=dbt_project(),
        select=OLIST_SELECT,
        dagster_dbt_translator=OlistDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
        name="olist_dbt_models",
        retry_policy=RETRY,
    )
    def olist_dbt_models(context):
        raise NotImplementedError(
            "runs execute marketplace.assets.olist_dbt_models; this definition describes it"
        )

    return olist_dbt_models
