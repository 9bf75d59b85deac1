"""`shopflow generate|simulate erp` and `shopflow erp ...` parse and refuse mistakes with exit 2 (no services)."""

import dagster as dg
import pytest

from shopflow_assets.cli import build_parser, main
from shopflow_assets.datagen.erp import CHANGE_KINDS, ErpSizes
from shopflow_assets.resources.postgres import PostgresResource

pytestmark = pytest.mark.unit


def test_erp_commands_share_the_generate_group_and_add_simulate_and_erp():
    parser = build_parser()
    assert parser.parse_args(["generate", "erp", "--scale", "0.5"]).scale == 0.5
    assert parser.parse_args(["generate", "shop", "--date", "2025-01-01"]).dataset == "shop"
    args = parser.parse_args(["simulate", "erp", "--changes-per-minute", "120", "--duration", "30"])
    assert (args.changes_per_minute, args.duration) == (120.0, 30.0)
    assert parser.parse_args(["erp", "ingest", "--table", "payment", "--table", "staff"]).tables == [
        "payment",
        "staff",
    ]
    assert parser.parse_args(["erp", "run"]).stages == ("ingest", "transform", "load")
    resync = parser.parse_args(["erp", "resync", "--safety-lag", "0"])
    assert (resync.func.__name__, resync.safety_lag) == ("_resync", 0.0)


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "erp", "--scale", "0"],
        ["simulate", "erp", "--changes-per-minute", "-3", "--duration", "10"],
        ["simulate", "erp", "--changes-per-minute", "ten", "--duration", "10"],
        ["simulate", "erp", "--duration", "10"],
        ["erp", "reload"],
        ["erp", "resync", "--table", "payment"],  # a resync always takes every table
    ],
)
def test_usage_mistakes_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_sizes_scale_and_keep_a_floor():
    assert ErpSizes.for_scale(1).sales_orders == 3000 and ErpSizes.for_scale(1).staff == 25
    assert ErpSizes.for_scale(0.0001).counterparties == 2
    assert "new_sales_order" in CHANGE_KINDS and "address" in CHANGE_KINDS


def test_a_postgres_resource_with_an_env_var_password_connects_outside_dagster(monkeypatch):
    monkeypatch.setenv("ERP_TEST_PASSWORD", "s3cret")
    resource = PostgresResource(user="someone", password=dg.EnvVar("ERP_TEST_PASSWORD"))
    assert resource._settings(None).postgres_password.get_secret_value() == "s3cret"
