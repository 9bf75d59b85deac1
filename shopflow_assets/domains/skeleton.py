"""What every domain applies once to all of its assets: its group (also its key prefix) and its owner."""

from __future__ import annotations

import warnings

import dagster as dg


def domain_owner(group: str) -> str:
    return f"team:{group}"


def domain_specs(defs: dg.Definitions, *, group: str) -> dg.Definitions:
    """`defs` with every asset (Python, multi-asset, dbt, external spec) in `group`, owned by the domain's team.

    Done here rather than on each decorator, so a domain cannot leave an asset in the default group and the
    UI shows one owner per domain.
    """
    owner = domain_owner(group)
    # The pinned dagster marks the mapping "preview"; the graph snapshot test catches any change of behaviour.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_resolved_asset_specs(
            func=lambda spec: spec.replace_attributes(group_name=group, owners=[owner]),
        )
