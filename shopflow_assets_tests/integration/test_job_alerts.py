"""Alerts for the project's real jobs: a shop partition with a corrupt raw file, a page-view stream whose
broker is down, and a failed star-schema check each reach a local SMTP server and a local webhook, naming
job, partition, failed step and first error line, and carrying no secret.

The runs are the code location's own jobs and resources on a real Dagster instance; the alert sensors
are evaluated on the recorded events the way the daemon does.
"""

from __future__ import annotations

import socket

import dagster as dg
import duckdb
import pytest

from shopflow_assets.domains.clickstream import definitions as clickstream
from shopflow_assets.domains.shop import definitions as shop
from shopflow_assets.domains.shop.checks import shop_star_schema_checks
from shopflow_assets.resources import build_resources
from shopflow_assets.settings import get_settings
from shopflow_assets_tests.support.alerts import (
    EVERY_CHECK,
    alert_resource,
    evaluate_check_sensor,
    evaluate_failure_sensor,
    smtp_server,
    webhook_server,
)

pytestmark = pytest.mark.stack

DAY = "2025-03-14"
SMTP_SECRET = "smtp-pass-91c2"


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """The service stack's settings (MinIO lake), with this test's own landing dir and warehouse."""
    if not get_settings().aws_access_key_id:
        pytest.skip("no S3 credentials: run `shopflow services up`")
    monkeypatch.setenv("SHOPFLOW_ENV", "docker")
    monkeypatch.setenv("SHOPFLOW_SHOP_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("SHOPFLOW_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run_job(domain, job_name: str, instance: dg.DagsterInstance, **kwargs) -> dg.DagsterRun:
    defs = dg.Definitions.merge(domain.defs, dg.Definitions(resources=build_resources(get_settings())))
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )
    return instance.get_run_by_id(result.run_id)


def alert_on(instance: dg.DagsterInstance, run: dg.DagsterRun):
    """Evaluate the run-failure sensor; returns (webhook post, raw post body, e-mail)."""
    with smtp_server() as mailbox, webhook_server() as hook:
        evaluate_failure_sensor(instance, run, alert_resource(mailbox, hook, smtp_password=SMTP_SECRET))
    assert len(hook.posts) == 1 and len(mailbox.messages) == 1
    everything = hook.raw[0].decode() + mailbox.messages[0].as_string()
    for secret in (hook.url, "T0KEN-secret", SMTP_SECRET, get_settings().secret("aws_secret_access_key")):
        assert secret not in everything
    return hook.posts[0], mailbox.messages[0]


def test_failed_shop_partition_is_mailed_and_posted(stack):
    landing = stack / "landing" / DAY
    landing.mkdir(parents=True)
    (landing / "Users.csv").write_text("id;name\n1;broken export\n")  # the wrong delimiter and columns
    instance = dg.DagsterInstance.ephemeral()
    run = run_job(shop, "ecommerce_daily_batch", instance, partition_key=DAY)
    assert run.status == dg.DagsterRunStatus.FAILURE

    post, mail = alert_on(instance, run)
    assert (post["kind"], post["job"], post["partition"]) == ("run_failure", "ecommerce_daily_batch", DAY)
    assert post["step"] == "shop_raw_objects" and post["run_id"] == run.run_id
    assert post["error"].endswith(
        "Users.csv: header 'id;name' is not the users contract's columns 'user_id,signup_date,country'"
    ), post["error"]
    assert mail["Subject"].strip() == (
        f"[shopflow] ecommerce_daily_batch partition {DAY} failed at step shop_raw_objects"
    )
    assert post["error"] in mail.get_content()


def test_failed_page_view_stream_is_mailed_and_posted(stack, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on: the broker is down
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", dead)
    get_settings.cache_clear()
    instance = dg.DagsterInstance.ephemeral()
    run = run_job(clickstream, "page_views_stream", instance)
    assert run.status == dg.DagsterRunStatus.FAILURE

    post, mail = alert_on(instance, run)
    assert (post["job"], post["partition"], post["step"]) == (
        "page_views_stream",
        None,
        "clickstream__fact_page_views",
    )
    assert "Kafka" in post["error"] and dead in post["error"], post["error"]
    assert "\n" not in post["error"]
    assert (
        mail["Subject"].strip() == "[shopflow] page_views_stream failed at step clickstream__fact_page_views"
    )


def test_failed_star_schema_check_is_mailed_and_posted(stack):
    # A warehouse whose day has an order with a negative total: the blocking check fails.
    with duckdb.connect(str(stack / "warehouse.duckdb")) as conn:
        conn.execute(
            "CREATE TABLE fact_orders AS SELECT * FROM (VALUES ('o-1', 'u-1', 'p-1', 20250314, DATE '2025-03-14', "
            "1, 9.5, 9.5), ('o-2', 'u-1', 'p-1', 20250314, DATE '2025-03-14', 1, 9.5, -9.5)) "
            "t(order_id, user_id, product_id, date_key, order_date, quantity, unit_price, total_amount)"
        )
        conn.execute("CREATE TABLE dim_users AS SELECT 'u-1' AS user_id")
        conn.execute("CREATE TABLE dim_products AS SELECT 'p-1' AS product_id, 9.5 AS price")
        conn.execute("CREATE TABLE dim_date AS SELECT 20250314 AS date_key")
    instance = dg.DagsterInstance.ephemeral()
    # The code location's own checks, re-run alone for the day (as "re-execute the checks" does in the UI).
    checks_only = dg.define_asset_job(
        "shop_star_schema_checks", selection=dg.AssetSelection.checks(shop_star_schema_checks)
    )
    defs = dg.Definitions.merge(
        shop.defs, dg.Definitions(jobs=[checks_only], resources=build_resources(get_settings()))
    )
    result = defs.resolve_job_def(checks_only.name).execute_in_process(
        instance=instance, tags={"dagster/partition": DAY}, raise_on_error=False
    )
    assert not result.success  # the check is blocking: its run fails too (and has its own run alert)

    with smtp_server() as mailbox, webhook_server() as hook:
        alerts = alert_resource(mailbox, hook, smtp_password=SMTP_SECRET)
        cursor = evaluate_check_sensor(instance, alerts, EVERY_CHECK, defs)
        assert evaluate_check_sensor(instance, alerts, cursor, defs) == cursor  # alerted once
    assert len(hook.posts) == 1 and len(mailbox.messages) == 1
    post = hook.posts[0]
    assert (post["kind"], post["asset"], post["check"]) == (
        "check_failure",
        "shop/fact_orders",
        "fact_orders_no_negative_amounts",
    )
    assert post["partition"] == DAY and post["run_id"] == result.run_id
    assert "failing_rows=1" in post["error"] and "sample=o-2" in post["error"], post["error"]
    subject = mailbox.messages[0]["Subject"].strip()
    assert subject.startswith("[shopflow] check fact_orders_no_negative_amounts failed on shop/fact_orders")
    assert hook.url not in hook.raw[0].decode() + mailbox.messages[0].as_string()
