"""SHOPFLOW_AUTOMATION decides which schedules and sensors of the loaded code location start RUNNING."""

import json
import os
import subprocess
import sys

import pytest

from shopflow_assets.automation import AUTOMATED
from shopflow_assets.settings import PROJECT_ROOT, Settings

# Loads the code location in a fresh interpreter (decorators read the setting at import time).
_DESCRIBE = """
import json
from shopflow_assets.definitions import defs
repo = defs.get_repository_def()
print(json.dumps({
    **{s.name: s.default_status.value for s in repo.schedule_defs},
    **{s.name: s.default_status.value for s in repo.sensor_defs},
}))
"""


def _default_statuses(tmp_path, **env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SHOPFLOW_ENV", "SHOPFLOW_AUTOMATION")}
    done = subprocess.run(
        [sys.executable, "-c", _DESCRIBE],
        env={**clean, "SHOPFLOW_HOME": str(tmp_path), **env},
        cwd=tmp_path,  # not the project root: its .env must not decide SHOPFLOW_ENV here
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "running"),
    [
        ({"SHOPFLOW_ENV": "docker"}, True),
        ({"SHOPFLOW_ENV": "local"}, False),
        ({"SHOPFLOW_ENV": "docker", "SHOPFLOW_AUTOMATION": "off"}, False),
    ],
)
def test_one_setting_switches_every_expected_schedule_and_sensor(tmp_path, env, running):
    statuses = _default_statuses(tmp_path, **env)
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
