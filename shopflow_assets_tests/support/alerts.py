"""Real endpoints for alert tests: a local SMTP server (aiosmtpd), a local webhook, a way to run the
alert sensors on a real Dagster instance without a daemon, and the failed-blocking-check scenario the
alert tests run on each kind of instance storage (assert_one_alert_per_failed_check)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import dagster as dg

from shopflow_assets.domains.operations.automation import check_failure_alert_sensor, run_failure_alert_sensor
from shopflow_assets.resources.alerts import AlertResource


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[email.message.Message] = field(default_factory=list)

    def bodies(self) -> list[str]:
        return [
            message.get_payload() if not message.is_multipart() else message.as_string()
            for message in self.messages
        ]


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An SMTP server on a free loopback port that keeps every message it receives."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox("127.0.0.1", 0)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            mailbox.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd needs a concrete port to check that it is up
        probe.bind(("127.0.0.1", 0))
        mailbox.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@dataclass
class Webhook:
    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)


@contextmanager
def webhook_server(path: str = "/hooks/T0KEN-secret") -> Iterator[Webhook]:
    """An HTTP server on a free loopback port recording every JSON POST; the path plays the secret token."""
    hook = Webhook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.raw.append(body)
            hook.posts.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def alert_resource(
    mailbox: Mailbox | None = None, hook: Webhook | None = None, **extra: Any
) -> AlertResource:
    return AlertResource(
        webhook_url=hook.url if hook else None,
        smtp_host=mailbox.host if mailbox else None,
        smtp_port=mailbox.port if mailbox else 25,
        email_to="oncall@example.com" if mailbox else None,
        **extra,
    )


def evaluate_failure_sensor(instance: dg.DagsterInstance, run: dg.DagsterRun, alerts: AlertResource) -> None:
    """Run `run_failure_alert_sensor` on a failed run, as the daemon would."""
    failure = next(
        record.get_dagster_event()
        for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    )
    context = dg.build_run_status_sensor_context(
        sensor_name=run_failure_alert_sensor.name,
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"alerts": alerts},
    ).for_run_failure()
    run_failure_alert_sensor(context)


# The check sensor's cursor before any evaluation: alert every failed check recorded.
EVERY_CHECK = json.dumps({"since": 0, "alerted": []})


def evaluate_check_sensor(
    instance: dg.DagsterInstance, alerts: AlertResource, cursor: str | None, definitions: dg.Definitions
) -> str:
    """One tick of `check_failure_alert_sensor` in `definitions`; returns the new cursor.

    Pass EVERY_CHECK to see every check ever recorded (the sensor itself starts from now)."""
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"alerts": alerts}, definitions=definitions
    )
    check_failure_alert_sensor(context)
    return context.cursor


@dg.asset
def orders() -> int:
    return 2


@dg.asset_check(asset=orders, blocking=True)
def orders_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="1 order with a negative total: o-2")


@dg.asset(deps=[orders])
def revenue() -> int:
    return 1


CHECK_DEFS = dg.Definitions(assets=[orders, revenue], asset_checks=[orders_positive])


def assert_one_alert_per_failed_check(instance: dg.DagsterInstance) -> None:
    """A failed blocking check through the sensor's ticks on `instance`: one alert, no tick raises."""
    with webhook_server() as hook:
        alerts = alert_resource(hook=hook)
        cursor = evaluate_check_sensor(instance, alerts, None, CHECK_DEFS)  # first tick: from now
        result = dg.materialize([orders, revenue, orders_positive], instance=instance, raise_on_error=False)
        assert not result.success  # blocking: revenue never ran
        cursor = evaluate_check_sensor(instance, alerts, cursor, CHECK_DEFS)
        assert evaluate_check_sensor(instance, alerts, cursor, CHECK_DEFS) == cursor  # no second alert
        dg.materialize([orders], instance=instance)  # a passing run, no check: nothing new
        evaluate_check_sensor(instance, alerts, cursor, CHECK_DEFS)
    assert len(hook.posts) == 1
    post = hook.posts[0]
    assert (post["kind"], post["asset"], post["check"]) == ("check_failure", "orders", "orders_positive")
    assert post["run_id"] == result.run_id and post["error"] == "1 order with a negative total: o-2"
