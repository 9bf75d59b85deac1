"""Keeping secrets out of logs, error messages and command lines.

- `redact_url`: a URL as it may be logged (scheme, host and port; no user info, path or query: webhook
  URLs carry their token in the path).
- `redact`: a text with given secret values replaced by `***`.
- `scram_sha256_verifier`: the form PostgreSQL stores a password in, computed here so the clear password
  never reaches the server (its log prints a failing statement, password literal included).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/{MASK}" if parts.scheme else MASK


def redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def scram_sha256_verifier(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802/7677), which
    `ALTER ROLE ... PASSWORD '<verifier>'` stores as is; logins with the clear password then work."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
