"""Unit tests run on the built-in defaults, not on whatever ShopFlow variables the shell exports."""

import pytest

from shopflow_assets.settings import Settings, get_settings, reload_settings

SETTING_VARIABLES = sorted(
    {field.validation_alias for field in Settings.model_fields.values() if field.validation_alias}
    - {"SHOPFLOW_HOME", "SHOPFLOW_CACHE_DIR"}  # where things live, not behaviour: keep the caller's
)


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch):
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    reload_settings()
    yield
    # Only drop the cache: the test's own monkeypatched variables are undone after this teardown.
    get_settings.cache_clear()
