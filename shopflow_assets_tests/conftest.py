"""Test-suite wide fixtures."""

import os

import pytest

from shopflow_assets.settings import get_settings


@pytest.fixture(autouse=True)
def _restore_environment():
    """Each test starts from the same environment and settings, whatever the previous test exported.

    Some code exports settings into os.environ for subprocesses it starts (dbt reads its profile from there),
    which would otherwise leak into later tests and make results depend on test order.
    """
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
