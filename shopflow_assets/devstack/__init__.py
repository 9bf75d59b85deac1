"""Native service management for local runs and CI: Kafka, MinIO and PostgreSQL on loopback.

from shopflow_assets import devstack
devstack.up()                    # start what is not running; fast when all are
devstack.status()                # [ServiceStatus(name, state, address, pid, detail), ...]
devstack.require_healthy("kafka")
devstack.ensure_buckets(settings)
devstack.down()
"""

from shopflow_assets.devstack.base import DevstackError, Reporter, quiet_reporter
from shopflow_assets.devstack.health import ServiceUnavailableError, require_reachable
from shopflow_assets.devstack.minio import ensure_buckets
from shopflow_assets.devstack.stack import SERVICES, ServiceStatus, down, require_healthy, reset, status, up

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
