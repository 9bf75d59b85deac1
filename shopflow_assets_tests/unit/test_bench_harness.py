"""The bench harness: verdicts against targets, the JSON record, and the comparison of two runs."""

import json
import sys

import pytest

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import harness  # noqa: E402


@pytest.mark.parametrize(
    ("value", "target", "better", "met"),
    [
        (29.9, 30, "lower", True),
        (30.1, 30, "lower", False),
        (151e3, 150e3, "higher", True),
        (1, None, "lower", None),
    ],
)
def test_verdicts(value, target, better, met):
    assert harness.Figure("x", value, "s", target, better).met is met


def test_record_writes_figures_and_compare_prints_the_change(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(harness, "OUT_DIR", tmp_path / "out")
    old = harness.record("demo", [harness.Figure("wall", 40.0, "s", 30)], orders=10)
    (tmp_path / "old.json").write_text(old.read_text())
    new = harness.record("demo", [harness.Figure("wall", 20.0, "s", 30)], orders=10)
    saved = json.loads(new.read_text())
    assert saved["figures"][0] | {"value": 20.0} == {
        "name": "wall",
        "value": 20.0,
        "unit": "s",
        "target": 30,
        "better": "lower",
        "met": True,
    }
    assert saved["context"] == {"orders": 10} and saved["cores"] >= 1
    capsys.readouterr()
    harness.compare(str(tmp_path / "old.json"), str(new))
    line = capsys.readouterr().out.splitlines()[1]
    assert "40.0 ->" in line and "20.0" in line and "-50.0%" in line and line.rstrip().endswith("met")
