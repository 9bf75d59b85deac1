"""Time travel on the lake's Delta tables (marketplace bronze/silver, fact_page_views) with delta-rs.

The `deltalake` package reads and restores the very tables Spark writes, at the same lake path scheme
(a directory locally, `s3://bucket/key` on MinIO/S3), without starting a JVM: `shopflow lake history`
answers in about a second instead of a Spark session's start-up. Restores are ordinary Delta commits, so
Spark, DuckDB and dbt read the restored version next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from shopflow_assets.contracts.clickstream import FACT_PAGE_VIEWS_LOCATION
from shopflow_assets.contracts.marketplace import ALL_TABLES, SILVER_ORDER
from shopflow_assets.resources.lake import Engine, lake_uri
from shopflow_assets.settings import Settings, get_settings

# Table name -> (bucket, key) in the lake; a namespace puts a whole copy under <bucket>/<namespace>/.
DELTA_TABLES: dict[str, tuple[str, str]] = {
    **{f"bronze_{t.name}": ("lakehouse", f"bronze/{t.name}") for t in ALL_TABLES},
    **{f"silver_{t.name}": ("lakehouse", f"silver/{t.name}") for t in SILVER_ORDER},
    "fact_page_views": FACT_PAGE_VIEWS_LOCATION,
}
# Tables a Structured Streaming query reads (table -> the table that stream writes): the streamed Olist
# bronze tables, read by their silver stream (marketplace pipeline.build_silver). A restore commits its
# removals as data changes, which that stream refuses to read (it has no skipChangeCommits), and the bronze
# stream's Kafka checkpoint is already past the rows the restore removes, so they are never read again.
STREAM_SOURCES: dict[str, str] = {f"bronze_{t.name}": f"silver_{t.name}" for t in ALL_TABLES if t.topic}


class UnknownTableError(ValueError):
    """A table name that is not one of DELTA_TABLES (a usage error)."""


class VersionError(ValueError):
    """A version or timestamp the table's history does not have (a usage error)."""


class StreamedSourceError(ValueError):
    """A restore of a table a stream reads, without the explicit flag (a usage error)."""


def checkpoint_key(namespace: str, table: str) -> str:
    """The stream checkpoint of a marketplace table's writer, in bucket `lakehouse`: the runner's prefix,
    then MarketplaceLake.checkpoint_name (its group is spelled here so the CLI does not import Spark)."""
    from shopflow_assets.resources.streaming.checkpoints import CHECKPOINT_PREFIX

    key = f"marketplace/{table}"
    return f"{CHECKPOINT_PREFIX}/{namespace}/{key}" if namespace else f"{CHECKPOINT_PREFIX}/{key}"


def parse_as_of(text: str) -> int | dt.datetime:
    """`12` is a version; `2026-01-02` or `2026-01-02T03:04:05[+00:00]` a timestamp (naive means UTC)."""
    if text.isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise VersionError(f"--as-of {text!r} is neither a version number nor an ISO timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class DeltaTables:
    """The known Delta tables of one lake, opened with delta-rs."""

    settings: Settings
    namespace: str = ""

    def __post_init__(self) -> None:
        from shopflow_assets.identifiers import safe_namespace  # the rule every other namespace follows

        object.__setattr__(self, "namespace", safe_namespace(self.namespace, "--namespace"))

    @classmethod
    def from_settings(cls, settings: Settings | None = None, namespace: str = "") -> DeltaTables:
        return cls(settings or get_settings(), namespace)

    def uri(self, table: str, engine: Engine = "native") -> str:
        """Where the table is, for delta-rs ("native") or Spark ("spark", s3a:// and file://)."""
        if table not in DELTA_TABLES:
            raise UnknownTableError(f"unknown table {table!r}; known: {', '.join(sorted(DELTA_TABLES))}")
        bucket, key = DELTA_TABLES[table]
        key = f"{self.namespace}/{key}" if self.namespace else key
        root = None if self.settings.uses_s3 else self.settings.local_lake_dir
        return lake_uri(root, bucket, key, engine)

    def spark_uri(self, table: str) -> str:
        return self.uri(table, "spark")

    def storage_options(self) -> dict[str, str]:
        if not self.settings.uses_s3:
            return {}
        return {
            "AWS_ENDPOINT_URL": self.settings.s3_endpoint_url,
            "AWS_ACCESS_KEY_ID": self.settings.secret("aws_access_key_id"),
            "AWS_SECRET_ACCESS_KEY": self.settings.secret("aws_secret_access_key"),
            "AWS_REGION": self.settings.aws_region,
            "AWS_ALLOW_HTTP": str(self.settings.s3_endpoint_url.startswith("http://")).lower(),
            # MinIO serves buckets as paths; a restore's commit must not overwrite a concurrent one:
            # S3 conditional put (MinIO supports it) makes the commit file creation atomic.
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
            "AWS_CONDITIONAL_PUT": "etag",
        }

    def open(self, table: str):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        uri = self.uri(table)
        try:
            return DeltaTable(uri, storage_options=self.storage_options())
        except TableNotFoundError:
            raise RuntimeError(f"{table}: no Delta table at {uri} (not materialized yet?)") from None

    def history(self, table: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first: version, timestamp (UTC), operation, its parameters and metrics."""
        rows = []
        for entry in self.open(table).history(limit):
            rows.append(
                {
                    "version": entry["version"],
                    "timestamp": dt.datetime.fromtimestamp(entry["timestamp"] / 1000, dt.UTC),
                    "operation": entry.get("operation", ""),
                    "parameters": entry.get("operationParameters") or {},
                    "metrics": {
                        # Spark writes metrics as strings, delta-rs as numbers: numbers either way.
                        name: int(value) if str(value).isdigit() else value
                        for name, value in (entry.get("operationMetrics") or {}).items()
                    },
                }
            )
        return sorted(rows, key=lambda row: row["version"], reverse=True)

    def snapshot(
        self, table: str, as_of: int | dt.datetime, limit: int | None = None
    ) -> tuple[int, pa.Table]:
        """The table as it was at a version or timestamp: (the version read, its rows)."""
        delta = self.open(table)
        latest = delta.version()
        if isinstance(as_of, int) and not 0 <= as_of <= latest:
            raise VersionError(f"{table} has versions 0..{latest}, not {as_of}")
        if isinstance(as_of, dt.datetime):
            first = min(self.history(table), key=lambda row: row["version"])
            if as_of < first["timestamp"]:
                # delta-rs would quietly read the first version: a time before the table is a mistake.
                raise VersionError(
                    f"{table} did not exist at {as_of:%Y-%m-%d %H:%M:%S} UTC (first version: {first['timestamp']:%Y-%m-%d %H:%M:%S})"
                )
        try:
            delta.load_as_version(as_of)
        except Exception as exc:  # delta-rs says why (before the first commit, a vacuumed version)
            raise VersionError(f"{table}: cannot read as of {as_of}: {str(exc).splitlines()[0]}") from None
        data = delta.to_pyarrow_table()
        return delta.version(), data.slice(0, limit) if limit is not None else data

    def location(self, bucket: str, key: str) -> str:
        """A lake location as the user sees it: a directory locally, s3://bucket/key on S3."""
        return lake_uri(
            None if self.settings.uses_s3 else self.settings.local_lake_dir, bucket, key, "native"
        )

    def streamed_source_refusal(self, table: str) -> str:
        """Why a restore of a table a stream reads is refused, and what to do instead."""
        silver = STREAM_SOURCES[table]
        ns = f" --namespace {self.namespace}" if self.namespace else ""
        bronze_checkpoint = self.location("lakehouse", checkpoint_key(self.namespace, table))
        silver_checkpoint = self.location("lakehouse", checkpoint_key(self.namespace, silver))
        return (
            f"{table} is read by the stream of {silver}: a restore commits its removals as data changes, "
            f"which that stream cannot read (every later silver run fails), and the rows it removes are not "
            f"read from Kafka again. Instead: undo the bad rows where they were merged, with "
            f"`shopflow lake restore {silver}{ns} --to VERSION`, then materialize the Olist gold again; or "
            f"replay the topic from Kafka: with no Olist run going, delete {self.uri(table)}, "
            f"{bronze_checkpoint} and {silver_checkpoint} and run olist_pipeline (the bronze stream reads "
            f"the topic again from its earliest retained offset, silver's MERGE keeps the newest row per "
            f"key). To restore anyway, pass --allow-streamed-source: it also removes {silver} (its table, "
            f"quarantine and checkpoint) for the next olist_pipeline run to rebuild from the restored "
            f"{table} (docs/time-travel.md)."
        )

    def stream_target_locations(self, table: str) -> list[tuple[str, str]]:
        """(bucket, key) of what the stream reading `table` writes: its silver table, that table's
        quarantine and the stream's checkpoint (MarketplaceLake's paths, spelled here without Spark)."""
        silver = STREAM_SOURCES[table]
        prefix = f"{self.namespace}/" if self.namespace else ""
        bucket, key = DELTA_TABLES[silver]
        return [
            (bucket, f"{prefix}{key}"),
            ("quarantine", f"{prefix}marketplace/{silver}"),
            ("lakehouse", checkpoint_key(self.namespace, silver)),
        ]

    def reset_stream_target(self, table: str) -> list[str]:
        """Remove the silver table the stream of `table` writes, its quarantine and its checkpoint, so
        the next silver run rebuilds them from `table` as it is now. Returns the locations removed."""
        removed = []
        for bucket, key in self.stream_target_locations(table):
            if self._remove_tree(bucket, key):
                removed.append(self.location(bucket, key))
        return removed

    def _remove_tree(self, bucket: str, key: str) -> bool:
        if not self.settings.uses_s3:
            import shutil

            path = self.settings.local_lake_dir / bucket / key
            if not path.exists():
                return False
            shutil.rmtree(path)
            return True
        from shopflow_assets.resources.lake import S3Lake

        lake = S3Lake.from_settings(self.settings)
        keys = [{"Key": found} for found in lake.list_keys(bucket, f"{key}/")]
        for start in range(0, len(keys), 1000):  # S3's most keys per delete request
            lake.client.delete_objects(
                Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
            )
        return bool(keys)

    def streamed_source_consequence(self, table: str, removed: list[str]) -> str:
        """What a forced restore of a table a stream reads did to that stream, and what is left to do."""
        silver = STREAM_SOURCES[table]
        gone = ", ".join(removed) if removed else "nothing (no silver yet)"
        return (
            f"{silver} is rebuilt from the restored {table} by the next olist_pipeline run (its stream "
            f"could not read the restore): removed {gone}. Then materialize the Olist gold again. The "
            f"bronze stream will not read the rows the restore removed from Kafka again."
        )

    def restore(
        self, table: str, version: int, *, allow_streamed_source: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """Make `version` the current state with a new commit: (the new version, delta-rs's metrics).

        A table a stream reads (STREAM_SOURCES) is refused unless `allow_streamed_source`; the caller then
        resets that stream's silver table (`reset_stream_target`)."""
        if table in STREAM_SOURCES and not allow_streamed_source:
            raise StreamedSourceError(self.streamed_source_refusal(table))
        delta = self.open(table)
        latest = delta.version()
        if not 0 <= version < latest:
            raise VersionError(
                f"{table} is at version {latest}: restore to one of 0..{latest - 1}, not {version}"
            )
        metrics = delta.restore(version)
        return delta.version(), metrics
