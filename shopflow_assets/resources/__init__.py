"""Resources: Spark, the lake (object store), the warehouse, Kafka and PostgreSQL.

`build_resources()` is what definitions.py hands to Dagster. It is cheap: no Spark start, no network;
each resource connects when an asset first uses it.
"""

from __future__ import annotations

from typing import Any

from shopflow_assets.resources.kafka import KafkaResource
from shopflow_assets.resources.lake import LakeResource
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.resources.spark import SparkResource
from shopflow_assets.resources.warehouse import WarehouseResource
from shopflow_assets.settings import Settings, get_settings

RESOURCE_KEYS = ("spark", "lake", "warehouse", "kafka", "postgres")


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resource dict for settings.env: "local" (lake = directory) or "docker" (lake = S3).

    The warehouse is the DuckDB file in both; the resources read everything else from settings when used.
    """
    settings = settings or get_settings()
    return {
        "spark": SparkResource(),
        "lake": LakeResource(backend="s3" if settings.uses_s3 else "local"),
        "warehouse": WarehouseResource(),
        "kafka": KafkaResource(),
        "postgres": PostgresResource(),
    }


__all__ = [
    "RESOURCE_KEYS",
    "KafkaResource",
    "LakeResource",
    "PostgresResource",
    "SparkResource",
    "WarehouseResource",
    "build_resources",
]
