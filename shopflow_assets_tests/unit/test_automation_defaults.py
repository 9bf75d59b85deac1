"""SHOPFLOW_AUTOMATION decides which schedules and sensors of the loaded code location start RUNNING."""

import importlib
import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import shopflow_assets.settings as settings_module
from shopflow_assets.automation import AUTOMATED
from shopflow_assets.settings import PROJECT_ROOT, Settings, reload_settings

pytestmark = pytest.mark.unit


def _reads_the_setting_at_import(name: str) -> bool:
    """Modules whose import builds schedules and sensors (decorators read the setting then), and those
    that gather them into Definitions: what must be imported again for another setting to show."""
    if name == "shopflow_assets.definitions":
        return True
    if not name.startswith("shopflow_assets.domains."):
        return False
    if name.endswith((".automation", ".definitions")):
        return True
    try:
        source = inspect.getsource(sys.modules[name])
    except (OSError, TypeError):
        return False
    return "sensor_status(" in source or "schedule_status(" in source


@contextmanager
def _code_location_under_current_settings() -> Iterator[dict[str, str]]:
    """Imports the automation and definitions modules again, in this process, under the settings now in
    force, and yields every schedule's and sensor's default status. The modules the session had are put
    back afterwards, so later tests keep the objects they imported."""
    saved = {name: module for name, module in sys.modules.items() if _reads_the_setting_at_import(name)}
    for name in saved:
        del sys.modules[name]
        # `from package import module` takes the package's attribute when it has one: drop it too.
        parent, _, child = name.rpartition(".")
        if hasattr(sys.modules.get(parent), child):
            delattr(sys.modules[parent], child)
    try:
        repo = importlib.import_module("shopflow_assets.definitions").defs.get_repository_def()
        yield {
            **{s.name: s.default_status.value for s in repo.schedule_defs},
            **{s.name: s.default_status.value for s in repo.sensor_defs},
        }
    finally:
        for name in [name for name in sys.modules if _reads_the_setting_at_import(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        for name, module in saved.items():  # packages' attributes point at the session's modules again
            parent, _, child = name.rpartition(".")
            setattr(sys.modules[parent], child, module)


def _default_statuses(tmp_path, monkeypatch, **env: str) -> dict[str, str]:
    # The session's code location, loaded (once) under the default settings before this case's: it is
    # what the other tests see, and what is put back afterwards.
    session = importlib.import_module("shopflow_assets.definitions")
    for name in ("SHOPFLOW_ENV", "SHOPFLOW_AUTOMATION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"SHOPFLOW_HOME": str(tmp_path), **env}.items():
        monkeypatch.setenv(name, value)
    # Only this case's variables decide: no project .env and no generated.env of the caller's home.
    monkeypatch.setattr(settings_module, "env_files", lambda: ())
    reload_settings()
    with _code_location_under_current_settings() as statuses:
        pass
    assert sys.modules["shopflow_assets.definitions"] is session
    return statuses


@pytest.mark.parametrize(
    ("env", "running"),
    [
        ({"SHOPFLOW_ENV": "docker"}, True),
        ({"SHOPFLOW_ENV": "local"}, False),
        ({"SHOPFLOW_ENV": "docker", "SHOPFLOW_AUTOMATION": "off"}, False),
    ],
)
def test_one_setting_switches_every_expected_schedule_and_sensor(tmp_path, monkeypatch, env, running):
    statuses = _default_statuses(tmp_path, monkeypatch, **env)
    assert set(AUTOMATED) <= set(statuses), (
        f"missing from the code location: {set(AUTOMATED) - set(statuses)}"
    )
    expected = "RUNNING" if running else "STOPPED"
    assert {name: statuses[name] for name in AUTOMATED} == dict.fromkeys(AUTOMATED, expected)
    # Everything else (the 06:00 Olist schedule, success notices) waits for a user in both settings.
    others = {name: status for name, status in statuses.items() if name not in AUTOMATED}
    assert others and set(others.values()) == {"STOPPED"}


def test_automation_defaults_to_the_environment():
    assert Settings(SHOPFLOW_ENV="docker").automation_on is True
    assert Settings(SHOPFLOW_ENV="local").automation_on is False
    assert Settings(SHOPFLOW_ENV="docker", SHOPFLOW_AUTOMATION="off").automation_on is False
    assert Settings(SHOPFLOW_ENV="local", SHOPFLOW_AUTOMATION="on").automation_on is True
    with pytest.raises(ValueError, match="SHOPFLOW_AUTOMATION"):
        Settings(SHOPFLOW_AUTOMATION="yes")


def test_compose_deployment_turns_automation_on():
    import yaml

    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    for service in ("dagster-webserver", "dagster-daemon"):
        env = compose["services"][service]["environment"]
        assert env["SHOPFLOW_ENV"] == "docker"
        assert env["SHOPFLOW_AUTOMATION"] == "${SHOPFLOW_AUTOMATION:-on}"
