"""Alerts reach a real SMTP server and a real webhook, name what failed, and carry no secret."""

import json
import logging

import dagster as dg
import pytest

from shopflow_assets.resources.alerts import Alert, AlertResource, first_line
from shopflow_assets_tests.support.alerts import (
    EVERY_CHECK,
    alert_resource,
    evaluate_check_sensor,
    evaluate_failure_sensor,
    smtp_server,
    webhook_server,
)

pytestmark = pytest.mark.unit

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01")
SMTP_SECRET = "smtp-pass-7f3a"


@dg.asset(partitions_def=DAYS)
def loaded_orders(context: dg.AssetExecutionContext) -> None:
    raise ValueError(f"order o-17 breaks rule total_amount >= 0 on {context.partition_key}\nsecond line")


@dg.asset
def customers() -> int:
    return 3


@dg.asset_check(asset=customers)
def customers_unique() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="2 duplicate customer_id values: c1, c9")


CHECKED = dg.Definitions(assets=[customers], asset_checks=[customers_unique])
failing_job = dg.define_asset_job("orders_job", selection=[loaded_orders], partitions_def=DAYS)


def _failed_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    result = (
        dg.Definitions(assets=[loaded_orders], jobs=[failing_job])
        .get_job_def("orders_job")
        .execute_in_process(instance=instance, partition_key="2026-01-02", raise_on_error=False)
    )
    assert not result.success
    return instance.get_run_by_id(result.run_id)


def test_a_failed_partition_run_is_mailed_and_posted_naming_job_partition_step_and_error():
    instance = dg.DagsterInstance.ephemeral()
    run = _failed_run(instance)
    with smtp_server() as mailbox, webhook_server() as hook:
        alerts = alert_resource(mailbox, hook, smtp_user=None, smtp_password=SMTP_SECRET)
        evaluate_failure_sensor(instance, run, alerts)

    assert len(hook.posts) == 1 and len(mailbox.messages) == 1
    post, mail = hook.posts[0], mailbox.messages[0]
    assert post["job"] == "orders_job" and post["partition"] == "2026-01-02"
    assert post["step"] == "loaded_orders" and post["run_id"] == run.run_id
    assert post["error"].endswith("order o-17 breaks rule total_amount >= 0 on 2026-01-02")
    assert "second line" not in post["error"]
    assert (
        mail["Subject"].strip() == "[shopflow] orders_job partition 2026-01-02 failed at step loaded_orders"
    )
    everything_sent = mail.as_string() + hook.raw[0].decode()
    assert "order o-17" in everything_sent
    for secret in (hook.url, "T0KEN-secret", SMTP_SECRET):
        assert secret not in everything_sent


def test_a_failed_asset_check_is_alerted_once_with_asset_and_check():
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([customers, customers_unique], instance=instance)
    with webhook_server() as hook:
        alerts = alert_resource(hook=hook)
        cursor = evaluate_check_sensor(instance, alerts, EVERY_CHECK, CHECKED)
        # nothing new: no second alert
        assert evaluate_check_sensor(instance, alerts, cursor, CHECKED) == cursor
    assert len(hook.posts) == 1
    post = hook.posts[0]
    assert (post["kind"], post["asset"], post["check"]) == ("check_failure", "customers", "customers_unique")
    assert post["error"] == "2 duplicate customer_id values: c1, c9"


def test_the_check_sensor_starts_from_now_not_from_history():
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([customers, customers_unique], instance=instance)
    with webhook_server() as hook:
        alerts = alert_resource(hook=hook)
        cursor = evaluate_check_sensor(instance, alerts, None, CHECKED)
        assert hook.posts == []
        dg.materialize([customers, customers_unique], instance=instance)
        evaluate_check_sensor(instance, alerts, cursor, CHECKED)
    assert len(hook.posts) == 1


def test_a_dead_channel_never_raises_and_never_logs_the_url(caplog):
    secret_url = "http://127.0.0.1:9/hooks/T0KEN-abc"
    alerts = AlertResource(webhook_url=secret_url, smtp_host="127.0.0.1", smtp_port=9, email_to="a@b.c")
    with caplog.at_level(logging.ERROR, logger="shopflow.alerts"):
        channels = alerts.send(Alert(kind="run_failure", job="j", run_id="r", error=f"boom at {secret_url}"))
    assert channels == ["log"]
    assert "webhook post failed" in caplog.text and "e-mail via 127.0.0.1:9 failed" in caplog.text
    assert "T0KEN-abc" not in caplog.text


def test_the_alert_cli_sends_through_the_configured_webhook(monkeypatch, capsys):
    from shopflow_assets.cli import main
    from shopflow_assets.settings import reload_settings

    with webhook_server() as hook:
        monkeypatch.setenv("SHOPFLOW_ALERT_WEBHOOK_URL", hook.url)
        reload_settings()
        assert main(["alert", "--job", "olist_pipeline", "--run-id", "r9", "--status", "success"]) == 0
    assert capsys.readouterr().out.strip() == "sent via log, webhook"
    assert json.loads(hook.raw[0])["title"] == "[shopflow] olist_pipeline succeeded"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("\n\n  first\nsecond", "first"), ("", ""), (None, ""), ("x" * 900, "x" * 500)],
)
def test_first_line(text, expected):
    assert first_line(text) == expected


def test_the_operations_sensors_are_in_the_code_location():
    from shopflow_assets.definitions import defs

    names = {sensor.name for sensor in defs.sensors}
    assert {"run_failure_alert_sensor", "check_failure_alert_sensor"} <= names
    assert "alerts" in defs.resources
