"""`shopflow stream`: argument parsing and how --prefix/--topic isolate a run's outputs and checkpoints."""

from __future__ import annotations

import pytest

from shopflow_assets.cli import build_parser
from shopflow_assets.cli.stream import actions_config, page_views_config

pytestmark = pytest.mark.unit


def test_page_views_defaults_are_the_contract_locations():
    args = build_parser().parse_args(["stream", "page-views"])
    config = page_views_config(args)
    assert (config.topic, config.table_key, config.checkpoint_name) == (
        "clicks_topic",
        "fact_page_views",
        "clickstream/page_views",
    )
    assert config.watermark == "2 minutes" and config.mirror_to_warehouse and not args.once


def test_prefix_moves_every_output_and_checkpoint_and_the_warehouse_table():
    args = build_parser().parse_args(
        [
            "stream",
            "page-views",
            "--once",
            "--topic",
            "t1",
            "--prefix",
            "_tests/ab",
            "--watermark",
            "30 seconds",
        ]
    )
    config = page_views_config(args)
    assert config.topic == "t1"
    assert config.table_key == "_tests/ab/fact_page_views"
    assert config.dead_letter_key == "_tests/ab/dead_letter/clicks_topic"
    assert config.checkpoint_name == "_tests/ab/clickstream/page_views"
    assert config.dead_letter_checkpoint_name == "_tests/ab/clickstream/clicks_dead_letter"
    assert config.warehouse_table == "fact_page_views__tests_ab"
    assert config.watermark == "30 seconds"


def test_actions_prefix_and_batch_size():
    args = build_parser().parse_args(
        [
            "stream",
            "actions",
            "--prefix",
            "bench/x",
            "--max-offsets-per-trigger",
            "1000",
            "--min-partitions",
            "8",
        ]
    )
    config = actions_config(args)
    assert config.output_key == "bench/x/user_actions"
    assert config.dead_letter_key == "bench/x/dead_letter/user_actions"
    assert config.checkpoint_name == "bench/x/events/user_actions"
    assert (config.max_offsets_per_trigger, config.min_partitions) == (1000, 8)
