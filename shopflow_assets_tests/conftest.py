"""Test-suite wide fixtures."""

import os

import pytest

from shopflow_assets.settings import get_settings

# The suite's own process starts in-process Spark sessions (unit tests, in-process job runs), and pyspark
# cannot mix those with a Connect session in one process: runs in this process and the processes it
# starts stay off the stack's warm driver unless a test asks for it (test_warm_driver.py does).
os.environ.setdefault("SHOPFLOW_WARM_DRIVER", "off")

# The tiers registered in pyproject.toml; docs/testing.md says which one a test belongs to.
TIERS = ("unit", "stack", "slow")


# tryfirst: before `-m` deselects, so an untiered test fails `-m unit` too instead of vanishing.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Collection fails for any test without exactly one tier: `-m unit` must never skip a test silently."""
    wrong = []
    for item in items:
        tiers = sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})
        if len(tiers) != 1:
            wrong.append(f"{item.nodeid}: {'no tier' if not tiers else 'tiers ' + ', '.join(tiers)}")
    if wrong:
        raise pytest.UsageError(
            "every test needs exactly one tier marker (pytestmark = pytest.mark.unit, .stack or .slow;"
            " docs/testing.md):\n  " + "\n  ".join(wrong)
        )


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
