"""Pipeline notifications: always a log line; a JSON webhook and/or an e-mail when configured in settings."""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from email.message import EmailMessage

from shopflow_assets.redact import redact, redact_url
from shopflow_assets.settings import Settings, get_settings

log = logging.getLogger("shopflow.marketplace.notify")


def notification_payload(job: str, run_id: str, status: str, detail: str = "") -> dict[str, str]:
    return {
        "text": f"[shopflow] {job} {status} (run {run_id}){': ' + detail if detail else ''}",
        "job": job,
        "run_id": run_id,
        "status": status,
        "detail": detail,
    }


def notify(payload: dict[str, str], settings: Settings | None = None) -> list[str]:
    """Send the notification on every configured channel; returns the channels used.

    A broken channel is logged, never raised: a notification must not turn a finished run into a failure.
    """
    settings = settings or get_settings()
    channels = ["log"]
    level = logging.ERROR if payload["status"] == "FAILURE" else logging.INFO
    log.log(level, payload["text"])
    if settings.alert_webhook_url and not settings.alert_webhook_url.startswith(("https://", "http://")):
        log.error("webhook notification skipped: SHOPFLOW_ALERT_WEBHOOK_URL must be an http(s) URL")
    elif settings.alert_webhook_url:
        try:
            request = urllib.request.Request(
                settings.alert_webhook_url,
                data=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10):  # nosec B310 # scheme checked to be http(s) above
                pass
            channels.append("webhook")
        except OSError as exc:
            # the URL's path is the webhook's credential: log where it went, not the URL
            url = settings.alert_webhook_url
            log.error("webhook notification to %s failed: %s", redact_url(url), redact(str(exc), [url]))
    if settings.alert_email_to and settings.smtp_host:
        try:
            message = EmailMessage()
            message["Subject"] = payload["text"][:200]
            message["From"] = "shopflow@localhost"
            message["To"] = settings.alert_email_to
            message.set_content(json.dumps(payload, indent=1))
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                smtp.send_message(message)
            channels.append("email")
        except OSError as exc:
            log.error("e-mail notification via %s failed: %s", settings.smtp_host, exc)
    return channels


if (
    __name__ == "__main__"
):  # Airflow's notify tasks: python -m ...notifications <job> <run id> <SUCCESS|FAILURE>
    import sys

    logging.basicConfig(level=logging.INFO)
    job, run_id, status = (sys.argv[1:] + ["olist_pipeline", "manual", "SUCCESS"][len(sys.argv) - 1 :])[:3]
    print(notify(notification_payload(job, run_id, status)))
