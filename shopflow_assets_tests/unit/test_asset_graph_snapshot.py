"""The asset graph as a reviewed file: any change of keys, lineage, partitions, checks or groups shows in a diff.

To accept an intended change, regenerate the file and commit it with the change:

    SHOPFLOW_UPDATE_SNAPSHOT=1 uv run pytest -q shopflow_assets_tests/unit/test_asset_graph_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from shopflow_assets.definitions import defs

pytestmark = pytest.mark.unit

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _partitions(node) -> str | None:
    partitions = node.partitions_def
    if partitions is None:
        return None
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return (
            f"{type(partitions).__name__}(start={partitions.start:%Y-%m-%d}, cron={partitions.cron_schedule})"
        )
    return type(partitions).__name__


def describe_graph(definitions: dg.Definitions) -> dict:
    """Every asset: group, kinds, owners, upstream keys, partitions, retry policy and its checks (blocking?)."""
    repository = definitions.get_repository_def()
    graph = repository.asset_graph
    checks: dict[str, list[str]] = {}
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        label = check_key.name + (" (blocking)" if spec.blocking else "")
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(label)
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        name = key.to_user_string()
        retry = None
        if node.is_materializable:
            policy = graph.assets_def_for_key(key).node_def.retry_policy
            retry = None if policy is None else f"{policy.max_retries} x {policy.delay}s {policy.backoff}"
        assets[name] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "materializable": node.is_materializable,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "partitions": _partitions(node),
            "retry": retry,
            "checks": sorted(checks.get(name, [])),
        }
    return assets


def test_asset_graph_matches_the_reviewed_snapshot():
    current = json.dumps(describe_graph(defs), indent=1, sort_keys=True) + "\n"
    if os.environ.get("SHOPFLOW_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), (
        "no snapshot yet: run with SHOPFLOW_UPDATE_SNAPSHOT=1 (see the module docstring)"
    )
    assert current == SNAPSHOT.read_text(), (
        "the asset graph changed: review the diff, then run with SHOPFLOW_UPDATE_SNAPSHOT=1 to accept it"
    )
