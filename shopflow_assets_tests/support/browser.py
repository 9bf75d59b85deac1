"""Headless Chromium for the UI tests: Debian's `chromium` driven by Playwright (its own browser
download is not needed), plus helpers to start a server and wait for it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# Screenshots of every UI test land here (gitignored): look at them after a run.
OUT_DIR = Path(__file__).resolve().parents[1] / "e2e" / "out"


def chromium_path() -> str:
    path = os.environ.get("SHOPFLOW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no chromium on PATH: apt-get install chromium (or set SHOPFLOW_CHROMIUM)")
    return path


@contextlib.contextmanager
def browser_page(width: int = 1600, height: int = 1000) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url: str, timeout: float, alive=lambda: True) -> None:
    """Wait until `url` answers 200; fail early when `alive()` says the server process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=5) as response,
        ):
            if response.status == 200:
                return
        if not alive():
            pytest.fail(f"the server for {url} exited while starting")
        time.sleep(1)
    pytest.fail(f"{url} did not answer within {timeout:.0f} s")
