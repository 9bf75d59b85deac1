"""The shop's dbt gold models as dagster-dbt assets; dbt tests show up as asset checks."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from shopflow_assets.domains.dbt import DBT_PROJECT, dbt_environment, ensure_dbt_manifest, partition_vars_arg
from shopflow_assets.domains.shop.partitions import shop_daily_partitions

DBT_RESOURCE_KEY = "dbt"


class ShopDbtTranslator(DagsterDbtTranslator):
    """dbt models under asset keys shop/<model>, in the `shop` group next to the Python assets."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # sources map through meta.dagster.asset_key
        return dg.AssetKey(["shop", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "shop"


@dbt_assets(
    manifest=ensure_dbt_manifest(),
    project=DBT_PROJECT,
    select="tag:shop",
    partitions_def=shop_daily_partitions,
    dagster_dbt_translator=ShopDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
    name="shop_dbt_models",
    # One day per run, like the Python assets upstream (their IO managers write one partition at a time).
    backfill_policy=dg.BackfillPolicy.multi_run(1),
)
def shop_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of the shop models for the partition's days: models, then their tests (as checks)."""
    window = context.partition_time_window
    with dbt_environment():
        yield from dbt.cli(["build", *partition_vars_arg(window.start, window.end)], context=context).stream()
