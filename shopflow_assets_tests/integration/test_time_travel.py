"""docs/time-travel.md IS this test: its python and `shopflow lake` blocks run in order on MinIO + Spark/Delta.

The walk-through's own asserts check the restored rows with Spark; this test also checks what each
command printed (versions, operations, row metrics) and the one-line usage errors.
"""

from __future__ import annotations

import re
import shlex
import uuid

import pytest

from shopflow_assets.cli import main
from shopflow_assets.settings import PROJECT_ROOT, get_settings

pytestmark = pytest.mark.stack

DOC = PROJECT_ROOT / "docs" / "time-travel.md"
BLOCK = re.compile(r"```(python|bash)\n(.*?)```", re.DOTALL)


def walkthrough_blocks() -> list[tuple[str, str]]:
    text = DOC.read_text().split("## Walk-through", 1)[1]
    return [(kind, body) for kind, body in BLOCK.findall(text)]


@pytest.fixture
def on_minio(monkeypatch):
    """The service stack's lake (MinIO), whatever the checkout's .env says."""
    if not get_settings().aws_access_key_id:
        pytest.skip("no S3 credentials: run `shopflow services up`")
    monkeypatch.setenv("SHOPFLOW_ENV", "docker")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def namespace(on_minio):
    """A copy of the tables of this test only, removed afterwards."""
    from shopflow_assets.resources.lake import build_lake

    name = f"walkthrough-{uuid.uuid4().hex[:8]}"
    yield name
    lake = build_lake()
    for key in lake.list_keys("lakehouse", f"{name}/"):
        lake.client.delete_object(Bucket="lakehouse", Key=key)


def test_docs_walkthrough_bad_merge_history_show_restore(namespace, capsys):
    blocks = walkthrough_blocks()
    assert [kind for kind, _ in blocks] == ["python", "python", "bash", "bash", "bash", "python"]
    scope: dict = {}
    printed: list[str] = []
    for kind, body in blocks:
        body = re.sub(r"\bwalkthrough\b", namespace, body)
        if kind == "python":
            exec(compile(body, str(DOC), "exec"), scope)  # the doc's asserts run here too
            continue
        argv = shlex.split(body.strip())
        assert argv[0] == "shopflow"
        capsys.readouterr()
        assert main(argv[1:]) == 0, body
        printed.append(capsys.readouterr().out)

    history, show, restore = printed
    rows = [line.split() for line in history.splitlines()[1:]]
    assert [(row[0], row[3]) for row in rows] == [("1", "MERGE"), ("0", "WRITE")]
    assert '"numTargetRowsUpdated": 3' in history and '"numTargetRowsInserted": 1' in history
    assert show.splitlines()[0] == "silver_customers at version 0 (first 3 rows)"
    assert "rio de janeiro" in show and "???" not in show
    assert restore.startswith("silver_customers restored to version 0 as new version 2")

    # The restore is history too: version 2 is a RESTORE, and the bad version can still be read.
    capsys.readouterr()
    assert main(["lake", "history", "silver_customers", "--namespace", namespace, "--limit", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:4][0::3] == ["2", "RESTORE"]
    assert main(["lake", "show", "silver_customers", "--namespace", namespace, "--as-of", "1"]) == 0
    assert "???" in capsys.readouterr().out
    for as_of, message in (
        ("9", "has versions 0..2, not 9"),
        ("2001-01-01", "did not exist at 2001-01-01 00:00:00"),
    ):
        assert main(["lake", "show", "silver_customers", "--namespace", namespace, "--as-of", as_of]) == 2
        assert message in capsys.readouterr().err
    assert main(["lake", "restore", "silver_customers", "--namespace", namespace, "--to", "2"]) == 2
    assert "is at version 2: restore to one of 0..1, not 2" in capsys.readouterr().err


def test_usage_errors_are_one_line_and_exit_2(on_minio, capsys):
    assert main(["lake", "history", "gold_everything"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "shopflow lake: unknown table 'gold_everything'; known: bronze_category_translation"
    )
    assert "\n" not in err
    assert main(["lake", "show", "fact_page_views", "--as-of", "yesterday"]) == 2
    assert "neither a version number nor an ISO timestamp" in capsys.readouterr().err
    assert (
        main(["lake", "restore", "silver_orders", "--namespace", f"none-{uuid.uuid4().hex[:6]}", "--to", "0"])
        == 1
    )
    assert "silver_orders: no Delta table at s3://lakehouse/none-" in capsys.readouterr().err
