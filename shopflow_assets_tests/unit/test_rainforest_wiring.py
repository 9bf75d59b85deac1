"""The rainforest domain is wired into the code location: keys, partitions, blocking checks, job, schedule, CLI."""

import dagster as dg
import pytest

from shopflow_assets.cli import build_parser, main
from shopflow_assets.contracts.rainforest import SOURCE_TABLES
from shopflow_assets.datagen.rainforest import RainforestError, Sizes, seller_ids_for
from shopflow_assets.definitions import defs

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def repo():
    return defs.get_repository_def()


def test_every_asset_under_the_rainforest_prefix_daily_partitioned(repo):
    keys = [k for k in repo.assets_defs_by_key if k.path[0] == "rainforest"]
    names = {k.path[1] for k in keys}
    assert {f"bronze_{t}" for t in SOURCE_TABLES} <= names
    assert {"fact_orders", "fact_order_items", "fact_clickstream", "dim_buyer", "dim_seller", "dim_category",
            "dim_product", "product_x_category", "seller_x_product", "wide_orders", "wide_order_items",
            "daily_category_metrics", "daily_order_metrics", "daily_category_report",
            "daily_order_report"} <= names  # fmt: skip
    for k in keys:
        assets_def = repo.assets_defs_by_key[k]
        assert isinstance(assets_def.partitions_def, dg.DailyPartitionsDefinition)
        assert assets_def.backfill_policy == dg.BackfillPolicy.single_run()


def test_publication_checks_are_blocking_and_upstream_of_the_views(repo):
    gold = repo.assets_defs_by_key[dg.AssetKey(["rainforest", "wide_order_items"])]
    specs = {(s.asset_key.path[1], s.name): s for s in gold.check_specs}
    assert set(specs) == {
        ("wide_orders", "no_duplicate_orders"),
        ("wide_orders", "no_duplicate_click_events"),
        ("wide_order_items", "no_duplicate_items"),
        ("daily_category_metrics", "mean_revenue_below_100000"),
        ("daily_order_metrics", "mean_revenue_below_100000"),
    }
    assert all(spec.blocking for spec in specs.values())
    view = repo.assets_defs_by_key[dg.AssetKey(["rainforest", "daily_category_report"])]
    upstream = {k.path[1] for k in view.asset_deps[dg.AssetKey(["rainforest", "daily_category_report"])]}
    assert {"wide_orders", "wide_order_items", "daily_category_metrics", "daily_order_metrics"} <= upstream


def test_daily_schedule_after_the_shop_batch(repo):
    schedule = repo.get_schedule_def("rainforest_medallion_schedule")
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.job_name == "rainforest_medallion"
    shop = repo.get_schedule_def("ecommerce_daily_batch_schedule")
    assert shop.cron_schedule == "0 2 * * *"


def test_cli_generate_rainforest_options_and_usage_errors(capsys):
    args = build_parser().parse_args(
        ["generate", "rainforest", "--date", "2026-11-01", "--days", "2", "--orders-per-day", "500"]
    )
    assert (args.date.isoformat(), args.days, args.orders_per_day, args.schema) == (
        "2026-11-01",
        2,
        500,
        "public",
    )
    for bad in (["--date", "11/01/2026"], ["--date", "2026-11-01", "--orders-per-day", "0"]):
        assert main(["generate", "rainforest", *bad]) == 2
        assert "shopflow generate rainforest" in capsys.readouterr().err


def test_generator_sizes_and_distinct_sellers_per_product():
    with pytest.raises(RainforestError, match="at least 1"):
        Sizes.for_orders(0)
    sizes = Sizes.for_orders(100_000)
    assert (sizes.buyers, sizes.sellers, sizes.products) == (50_000, 2_000, 10_000)
    import numpy as np

    products = np.arange(1, 5_001)
    offered = {tuple(seller_ids_for(products, Sizes.for_orders(10).sellers, k)) for k in range(3)}
    assert len(offered) == 3  # the 1st, 2nd and 3rd seller of a product are different sellers
    assert all(len({a, b, c}) == 3 for a, b, c in zip(*offered, strict=True))


def test_parallel_writes_merge_their_row_counts_and_raise_a_failure_after_the_others_end():
    import threading

    from shopflow_assets.domains.rainforest.pipeline import _in_parallel

    assert _in_parallel([lambda: {"a": 1}, lambda: {"b": 2, "c": 3}]) == {"a": 1, "b": 2, "c": 3}
    finished = threading.Event()

    def fails():
        raise RuntimeError("write of bronze_orders failed")

    def slow():
        finished.wait(0.2)
        finished.set()
        return {"slow": 1}

    with pytest.raises(RuntimeError, match="bronze_orders"):
        _in_parallel([fails, slow])
    assert finished.is_set()  # no write is left running behind the error
