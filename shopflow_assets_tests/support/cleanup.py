"""Removing what a stack test wrote to the shared services: its lake prefixes and its Kafka topics."""

from __future__ import annotations

from collections.abc import Iterable

from shopflow_assets.settings import Settings


def lake_namespace_prefixes(namespace: str, *buckets: str) -> list[tuple[str, str]]:
    """(bucket, prefix) of everything a flow writes under a lake namespace: its tables in `lakehouse` and
    each of `buckets` (quarantine by default), and its stream checkpoints."""
    return [
        ("lakehouse", f"{namespace}/"),
        ("lakehouse", f"_checkpoints/{namespace}/"),
        *((bucket, f"{namespace}/") for bucket in (buckets or ("quarantine",))),
    ]


def remove_from_lake(settings: Settings, prefixes: Iterable[tuple[str, str]]) -> None:
    """Delete every object under each (bucket, prefix) of the S3 lake."""
    from shopflow_assets.resources.lake import build_lake

    lake = build_lake(settings, "s3")
    for bucket, prefix in prefixes:
        for key in lake.list_keys(bucket, prefix):
            lake.client.delete_object(Bucket=bucket, Key=key)


def delete_topics(settings: Settings, topics: Iterable[str]) -> None:
    from confluent_kafka.admin import AdminClient

    from shopflow_assets.resources.kafka import kafka_client_config

    admin = AdminClient(kafka_client_config(settings, "admin"))
    for deletion in admin.delete_topics(list(topics)).values():
        deletion.result(timeout=30)
