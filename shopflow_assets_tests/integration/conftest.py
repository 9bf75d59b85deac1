"""Fixtures shared by the stack tests of this folder. A module that needs other settings (an isolated
stack, a fresh bootstrap) defines its own `settings`, which takes precedence over this one."""

from __future__ import annotations

import pytest

from shopflow_assets.settings import get_settings
from shopflow_assets_tests.support.erp import erp_stack


@pytest.fixture(scope="module")
def settings():
    """The running stack's settings; fails in one line when `shopflow services up` has not run."""
    settings = get_settings()
    if not settings.aws_access_key_id or settings.postgres_password is None:
        pytest.fail("no service credentials in settings: run `uv run shopflow services up` first")
    return settings


@pytest.fixture
def erp(settings):
    """A throw-away ERP source, warehouse and lake prefix for one test (support.erp.erp_stack)."""
    with erp_stack(settings) as stack:
        yield stack
