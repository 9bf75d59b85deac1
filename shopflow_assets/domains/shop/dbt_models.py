"""The shop's dbt models as dagster-dbt builds them: `shopflow dbt-prepare` writes their specs, and a run of
`shop_dbt_models` builds this definition to run dbt (domains/dbt.py). Imports dagster-dbt and dbt-core, so
the code location never imports this module when it loads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from shopflow_assets.domains.dbt import MANIFEST_PATH, dbt_project
from shopflow_assets.domains.shop.partitions import shop_daily_partitions

PREFIX = "shop"  # as in assets.py: importing that module here would need these specs to exist already


class ShopDbtTranslator(DagsterDbtTranslator):
    """dbt models under asset keys shop/<model>, next to the Python assets."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # sources map through meta.dagster.asset_key
        return dg.AssetKey([PREFIX, dbt_resource_props["name"]])


def build() -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=MANIFEST_PATH,
        project=dbt_project(),
        select="tag:shop",
        partitions_def=shop_daily_partitions,
        dagster_dbt_translator=ShopDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
        name="shop_dbt_models",
        # One day per run, like the Python assets upstream (their IO managers write one partition at a time).
        backfill_policy=dg.BackfillPolicy.multi_run(1),
    )
    def shop_dbt_models(context):
        raise NotImplementedError("runs execute shop.assets.shop_dbt_models; this definition describes it")

    return shop_dbt_models
