"""Test-suite wide fixtures."""

import os

import pytest

from shopflow_assets.settings import get_settings

# The suite's own process starts in-process Spark sessions (unit tests, in-process job runs), and pyspark
# cannot mix those with a Connect session in one process: runs in this process and the processes it
# starts stay off the stack's warm driver unless a test asks for it (test_warm_driver.py does).
os.environ.setdefault("SHOPFLOW_WARM_DRIVER", "off")


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
