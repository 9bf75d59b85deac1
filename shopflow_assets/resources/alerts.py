"""Alerts: one message, three channels (the log always; a JSON webhook and an e-mail when configured).

The sensors in `domains/operations` build an `Alert` from a failed run or a failed asset check and hand
it to `AlertResource.send`. Sending never raises: an alert channel that is down must not turn a finished
run into a failure, so a broken channel is logged (without its URL or credentials) and skipped.

Why not Dagster's `make_email_on_run_failure_sensor`: it always logs in to the SMTP server (no
unauthenticated relay, which is what most internal relays and our test server are), has no webhook, and
its message does not name the partition or the failed step. The sensors still are Dagster's own
`run_failure_sensor` and event-log cursor machinery; only the delivery is ours.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Literal

import dagster as dg

log = logging.getLogger("shopflow.alerts")

AlertKind = Literal["run_failure", "check_failure", "run_success"]


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    job: str
    run_id: str
    partition: str | None = None
    step: str | None = None
    error: str = ""  # the first line of the error; never a whole traceback
    asset: str | None = None
    check: str | None = None

    @property
    def title(self) -> str:
        where = f" partition {self.partition}" if self.partition else ""
        if self.kind == "check_failure":
            return f"[shopflow] check {self.check} failed on {self.asset} (job {self.job}{where})"
        if self.kind == "run_success":
            return f"[shopflow] {self.job}{where} succeeded"
        step = f" at step {self.step}" if self.step else ""
        return f"[shopflow] {self.job}{where} failed{step}"

    def text(self) -> str:
        lines = [self.title, f"run: {self.run_id}"]
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)

    def payload(self) -> dict[str, str | None]:
        return {"text": self.text(), "title": self.title, **asdict(self)}


def first_line(text: str | None, limit: int = 500) -> str:
    """The first non-blank line of an error message, cut to `limit` characters."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def redact(text: str, secrets: list[str | None]) -> str:
    """`text` with every secret value replaced, for anything that leaves the process."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class AlertResource(dg.ConfigurableResource):
    """Where alerts go. Secrets (the webhook URL carries a token, the SMTP password) come as EnvVars."""

    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    email_from: str = "shopflow@localhost"
    email_to: str | None = None  # comma-separated
    timeout_seconds: float = 10.0

    def _secrets(self) -> list[str | None]:
        return [self.webhook_url, self.smtp_password]

    def send(self, alert: Alert) -> list[str]:
        """Deliver on every configured channel; returns the channels that took it."""
        payload = {
            key: redact(value, self._secrets()) if isinstance(value, str) else value
            for key, value in alert.payload().items()
        }
        channels = ["log"]
        log.log(logging.INFO if alert.kind == "run_success" else logging.ERROR, payload["text"])
        if self.webhook_url and self._post_webhook(payload):
            channels.append("webhook")
        if self.smtp_host and self.email_to and self._send_email(payload):
            channels.append("email")
        return channels

    def _post_webhook(self, payload: dict) -> bool:
        # urllib also opens file:// and ftp:// URLs: a "webhook" of file:///... would read a local file
        scheme = urllib.parse.urlsplit(self.webhook_url).scheme.lower()
        if scheme not in ("http", "https"):
            log.error("alert webhook not posted: the URL must be http(s), its scheme is %r", scheme)
            return False
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds):  # nosec B310 - URL is configured by the operator
                return True
        except OSError as exc:
            # The URL itself is a secret: name only the failure.
            log.error("alert webhook post failed: %s", redact(str(exc), self._secrets()))
            return False

    def _send_email(self, payload: dict) -> bool:
        message = EmailMessage()
        message["Subject"] = payload["title"][:200]
        message["From"] = self.email_from
        message["To"] = self.email_to
        message.set_content(payload["text"] + "\n\n" + json.dumps(payload, indent=1, default=str))
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_seconds) as smtp:
                if self.smtp_starttls:
                    smtp.starttls()
                if self.smtp_user and self.smtp_password:
                    smtp.login(self.smtp_user, self.smtp_password)
                smtp.send_message(message)
            return True
        except (OSError, smtplib.SMTPException) as exc:
            log.error(
                "alert e-mail via %s:%s failed: %s",
                self.smtp_host,
                self.smtp_port,
                redact(str(exc), self._secrets()),
            )
            return False
