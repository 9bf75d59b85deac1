"""Native service management for local runs and CI: Kafka, MinIO and PostgreSQL on loopback.

    from shopflow_assets import devstack
    devstack.up()                    # start what is not running; fast when all are
    devstack.status()                # [ServiceStatus(name, state, address, pid, detail), ...]
    devstack.require_healthy("kafka")
    devstack.ensure_buckets(settings)
    devstack.down()

Exports resolve lazily, so `from shopflow_assets.devstack.health import ...` (used by every client
resource) does not import the service machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "DevstackError": "base",
    "Reporter": "base",
    "quiet_reporter": "base",
    "ServiceUnavailableError": "health",
    "require_reachable": "health",
    "ensure_buckets": "minio",
    "SERVICES": "stack",
    "ServiceStatus": "stack",
    "down": "stack",
    "require_healthy": "stack",
    "reset": "stack",
    "status": "stack",
    "up": "stack",
}

__all__ = [
    "SERVICES",
    "DevstackError",
    "Reporter",
    "ServiceStatus",
    "ServiceUnavailableError",
    "down",
    "ensure_buckets",
    "quiet_reporter",
    "require_healthy",
    "require_reachable",
    "reset",
    "status",
    "up",
]

if TYPE_CHECKING:
    from shopflow_assets.devstack.base import DevstackError, Reporter, quiet_reporter
    from shopflow_assets.devstack.health import ServiceUnavailableError, require_reachable
    from shopflow_assets.devstack.minio import ensure_buckets
    from shopflow_assets.devstack.stack import (
        SERVICES,
        ServiceStatus,
        down,
        require_healthy,
        reset,
        status,
        up,
    )


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
