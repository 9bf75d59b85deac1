"""The dbt manifest is re-parsed when the project changed after it was written (a pull that adds a model)."""

from __future__ import annotations

import os

import pytest

from shopflow_assets.domains.dbt import manifest_is_stale

pytestmark = pytest.mark.unit


def _touch(path, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("select 1\n")
    os.utime(path, (mtime, mtime))


def test_manifest_is_stale_when_missing_or_older_than_a_model_macro_or_project_file(tmp_path):
    manifest = tmp_path / "target" / "manifest.json"
    _touch(tmp_path / "models" / "marts" / "a.sql", 1_000)
    _touch(tmp_path / "dbt_project.yml", 1_000)
    assert manifest_is_stale(manifest, tmp_path)  # missing

    _touch(manifest, 2_000)
    _touch(tmp_path / "target" / "run" / "compiled.sql", 3_000)  # dbt's own output does not count
    _touch(tmp_path / "models" / "notes.md", 3_000)  # neither do files dbt does not parse
    assert not manifest_is_stale(manifest, tmp_path)

    _touch(tmp_path / "macros" / "new_macro.sql", 3_000)
    assert manifest_is_stale(manifest, tmp_path)
    _touch(manifest, 4_000)
    _touch(tmp_path / "dbt_project.yml", 5_000)
    assert manifest_is_stale(manifest, tmp_path)
