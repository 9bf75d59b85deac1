"""Every variable the settings read is documented in .env.example, so a user can find each knob."""

import pytest

from shopflow_assets.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.unit


def _documented() -> set[str]:
    lines = (PROJECT_ROOT / ".env.example").read_text().splitlines()
    return {
        line.split("=", 1)[0].strip() for line in lines if "=" in line and not line.lstrip().startswith("#")
    }


def test_every_setting_is_documented():
    variables = {field.validation_alias for field in Settings.model_fields.values() if field.validation_alias}
    missing = variables - _documented()
    assert not missing, (
        f"settings read these variables but .env.example does not document them: {sorted(missing)}"
    )


def test_env_example_holds_no_secret_values():
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        name, _, value = line.partition("=")
        if any(word in name for word in ("PASSWORD", "SECRET")):
            assert value.strip() == "", f"{name} must be left blank in .env.example"
