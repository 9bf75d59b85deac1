"""The object store (the lake): S3/MinIO through boto3, or a local directory, behind one interface.

One path scheme for every engine:

| engine   | S3 backend          | local backend                      |
|----------|---------------------|------------------------------------|
| "spark"  | s3a://bucket/key    | file:///<lake dir>/bucket/key      |
| "duckdb" | s3://bucket/key     | /<lake dir>/bucket/key             |
| "native" | s3://bucket/key     | /<lake dir>/bucket/key             |

Raw data is immutable, so `put_if_absent` never overwrites: the same bytes again are a no-op (reruns are
idempotent), different bytes raise `LakeConflictError`. Transient S3 failures are retried by botocore's
standard retry mode (exponential backoff with jitter), then fail with `LakeUnavailableError` naming the
store, bucket/key and attempts.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import dagster as dg

from shopflow_assets.settings import BUCKETS, Settings, get_settings, private_dir

Engine = Literal["spark", "duckdb", "native"]
T = TypeVar("T")


class LakeError(RuntimeError):
    """A lake operation failed; the message names the store, the bucket/key and the reason."""


class LakeConflictError(LakeError):
    """put_if_absent found different content under the key: raw data is never overwritten."""


class LakeUnavailableError(LakeError):
    """The store kept failing after every retry."""


class LakeKeyNotFoundError(LakeError, FileNotFoundError):
    """No object under the key; `location` is its bucket/key."""

    def __init__(self, lake: str, bucket: str, key: str):
        self.location = f"{bucket}/{key}"
        super().__init__(f"{lake}: no object {self.location}")


def validate_location(bucket: str, key: str) -> None:
    if bucket not in BUCKETS:
        raise LakeError(
            f"unknown bucket {bucket!r} (key {key!r}): the lake's buckets are {', '.join(BUCKETS)}"
        )
    parts = key.split("/")
    if not key or key.startswith("/") or ".." in parts or "" in parts[:-1]:
        raise LakeError(
            f"invalid key {key!r} in bucket {bucket!r}: keys are relative, '/'-separated, "
            "without empty or '..' segments"
        )


def lake_uri(root: Path | None, bucket: str, key: str = "", engine: Engine = "native") -> str:
    """THE lake path scheme. `root` is the local lake directory, or None for the S3 backend."""
    if key:
        validate_location(bucket, key)
    elif bucket not in BUCKETS:
        validate_location(bucket, "-")
    suffix = f"/{key}" if key else ""
    if root is None:
        scheme = "s3a" if engine == "spark" else "s3"
        return f"{scheme}://{bucket}{suffix}"
    path = f"{root.resolve()}/{bucket}{suffix}"
    return f"file://{path}" if engine == "spark" else path


class Lake(ABC):
    """put / put-if-absent / get / exists / list under a prefix, and the path scheme, for one store."""

    root: Path | None  # local lake directory, or None for S3
    retry_attempts: int = 1  # tries in all, made by the client library (a local directory tries once)

    # --- the path scheme --------------------------------------------------------------------
    def uri(self, bucket: str, key: str = "", engine: Engine = "native") -> str:
        return lake_uri(self.root, bucket, key, engine)

    def spark_uri(self, bucket: str, key: str = "") -> str:
        return self.uri(bucket, key, "spark")

    def duckdb_uri(self, bucket: str, key: str = "") -> str:
        return self.uri(bucket, key, "duckdb")

    # --- operations -------------------------------------------------------------------------
    def put_bytes(self, bucket: str, key: str, data: bytes) -> str:
        """Write (or replace) an object; returns its native URI."""
        validate_location(bucket, key)
        self._guarded("put", bucket, key, lambda: self._put(bucket, key, data))
        return self.uri(bucket, key)

    def put_file(self, bucket: str, key: str, path: str | Path) -> str:
        return self.put_bytes(bucket, key, Path(path).read_bytes())

    def put_if_absent(self, bucket: str, key: str, data: bytes) -> bool:
        """Write unless the key exists. True if written; False if identical bytes were already there.

        Different bytes under the key raise LakeConflictError: raw data is never overwritten.
        """
        validate_location(bucket, key)
        created = self._guarded("put-if-absent", bucket, key, lambda: self._put_if_absent(bucket, key, data))
        if created:
            return True
        existing = self.get_bytes(bucket, key)
        if existing != data:
            raise LakeConflictError(
                f"{self.describe()}: {bucket}/{key} already exists with different content "
                f"({len(existing)} bytes, sha256 {_sha(existing)}) than the new write ({len(data)} bytes, "
                f"sha256 {_sha(data)}); raw data is immutable, write under a new key instead"
            )
        return False

    def put_file_if_absent(self, bucket: str, key: str, path: str | Path) -> bool:
        return self.put_if_absent(bucket, key, Path(path).read_bytes())

    def get_bytes(self, bucket: str, key: str) -> bytes:
        validate_location(bucket, key)
        return self._guarded("get", bucket, key, lambda: self._get(bucket, key))

    def exists(self, bucket: str, key: str) -> bool:
        validate_location(bucket, key)
        return self._guarded("exists", bucket, key, lambda: self._exists(bucket, key))

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under `prefix` in the bucket, sorted."""
        if bucket not in BUCKETS:
            validate_location(bucket, prefix or "-")
        return sorted(self._guarded("list", bucket, prefix, lambda: self._list(bucket, prefix)))

    # --- backend hooks ----------------------------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """The store, for error messages: `S3 store at http://...` or `local lake at /...`."""

    @abstractmethod
    def _put(self, bucket: str, key: str, data: bytes) -> None: ...

    @abstractmethod
    def _put_if_absent(self, bucket: str, key: str, data: bytes) -> bool: ...

    @abstractmethod
    def _get(self, bucket: str, key: str) -> bytes: ...

    @abstractmethod
    def _exists(self, bucket: str, key: str) -> bool: ...

    @abstractmethod
    def _list(self, bucket: str, prefix: str) -> list[str]: ...

    def _is_transient(self, exc: BaseException) -> bool:
        return False

    def _guarded(self, operation: str, bucket: str, key: str, action: Callable[[], T]) -> T:
        """Run one store operation; a failure becomes a LakeError naming the store, the key and the reason."""
        try:
            return action()
        except LakeError:
            raise
        except Exception as exc:
            if self._is_transient(exc):
                raise LakeUnavailableError(
                    f"{self.describe()}: {operation} {bucket}/{key} failed after {self.retry_attempts} "
                    f"attempts (botocore standard retry mode): {exc}"
                ) from exc
            raise LakeError(f"{self.describe()}: {operation} {bucket}/{key} failed: {exc}") from exc


class LocalLake(Lake):
    """The lake as a directory: `<root>/<bucket>/<key>`; bucket directories are created as needed."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def describe(self) -> str:
        return f"local lake at {self.root}"

    def _path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def _temp_file(self, target: Path, data: bytes) -> Path:
        private_dir(target.parent)  # raw objects and their copies: this user's only
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return Path(temp)

    def _put(self, bucket: str, key: str, data: bytes) -> None:
        target = self._path(bucket, key)
        os.replace(self._temp_file(target, data), target)  # readers never see half a file

    def _put_if_absent(self, bucket: str, key: str, data: bytes) -> bool:
        target = self._path(bucket, key)
        temp = self._temp_file(target, data)
        try:
            os.link(temp, target)  # atomic, and fails if the key exists: no check-then-write race
            return True
        except FileExistsError:
            return False
        finally:
            temp.unlink(missing_ok=True)

    def _get(self, bucket: str, key: str) -> bytes:
        try:
            return self._path(bucket, key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise LakeKeyNotFoundError(self.describe(), bucket, key) from None

    def _exists(self, bucket: str, key: str) -> bool:
        return self._path(bucket, key).is_file()

    def _list(self, bucket: str, prefix: str) -> list[str]:
        bucket_dir = self.root / bucket
        if not bucket_dir.is_dir():
            return []
        # Walk only the directory part of the prefix; the rest filters names (S3 prefix semantics).
        start = bucket_dir / prefix.rpartition("/")[0] if "/" in prefix else bucket_dir
        if not start.is_dir():
            return []
        keys = []
        for path in start.rglob("*"):
            if path.is_file() and not (path.name.startswith(".") and path.name.endswith(".tmp")):
                key = path.relative_to(bucket_dir).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return keys


_TRANSIENT_S3_CODES = {
    "500",
    "502",
    "503",
    "504",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "ThrottlingException",
}


class S3Lake(Lake):
    """The lake on an S3 API (MinIO locally and in CI, any S3 in production)."""

    root = None

    def __init__(
        self,
        endpoint_url: str,
        access_key_id: str,
        secret_access_key: str,
        region: str = "us-east-1",
        connect_timeout: float = 3.0,
        retry_attempts: int = 4,
    ):
        if retry_attempts < 1:
            raise ValueError("retry_attempts must be at least 1")
        self.retry_attempts = retry_attempts
        self.endpoint_url = endpoint_url
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self.region = region
        self.connect_timeout = connect_timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Lake:
        return cls(
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.secret("aws_access_key_id"),
            secret_access_key=settings.secret("aws_secret_access_key"),
            region=settings.aws_region,
            retry_attempts=settings.lake_retry_attempts,
        )

    def describe(self) -> str:
        return f"S3 store at {self.endpoint_url}"

    @cached_property
    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self._access_key_id,
            aws_secret_access_key=self._secret_access_key,
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                # botocore retries transient errors (connection, 5xx, throttling) with jittered backoff.
                retries={"total_max_attempts": self.retry_attempts, "mode": "standard"},
                connect_timeout=self.connect_timeout,
                read_timeout=60,
            ),
        )

    def _is_transient(self, exc: BaseException) -> bool:
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        if isinstance(exc, ConnectionError | HTTPClientError):
            return True
        if isinstance(exc, ClientError):
            return str(exc.response.get("Error", {}).get("Code")) in _TRANSIENT_S3_CODES
        return False

    @staticmethod
    def _code(exc: BaseException) -> str:
        response = getattr(exc, "response", None) or {}
        return str(response.get("Error", {}).get("Code", ""))

    def _put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def _put_if_absent(self, bucket: str, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            # Conditional write: the server refuses atomically when the key exists.
            self.client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
            return True
        except ClientError as exc:
            if self._code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                return False
            if self._code(exc) in {"NotImplemented", "501"}:
                # A server without conditional writes: check, then write (racy, but never overwrites
                # content that was there before the check).
                if self._exists(bucket, key):
                    return False
                self._put(bucket, key, data)
                return True
            raise

    def _get(self, bucket: str, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if self._code(exc) in {"NoSuchKey", "404"}:
                raise LakeKeyNotFoundError(self.describe(), bucket, key) from None
            raise

    def _exists(self, bucket: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as exc:
            if self._code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise

    def _list(self, bucket: str, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]


def build_lake(settings: Settings | None = None, backend: Literal["local", "s3"] | None = None) -> Lake:
    """The lake for settings: a directory when settings.env == "local", S3 otherwise (no network here)."""
    settings = settings or get_settings()
    backend = backend or ("s3" if settings.uses_s3 else "local")
    if backend not in ("local", "s3"):
        raise LakeError(f"unknown lake backend {backend!r}: use 'local' (a directory) or 's3'")
    if backend == "s3":
        return S3Lake.from_settings(settings)
    return LocalLake(settings.local_lake_dir)


class LakeResource(dg.ConfigurableResource):
    """Dagster's handle on the lake. build_resources() sets every field for the environment (secrets as
    EnvVar); a field left None follows the settings in force when used (`backend` None: settings.env)."""

    # A plain str: Dagster config has no Literal type; build_lake() rejects anything else.
    backend: str | None = None
    local_dir: str | None = None
    s3_endpoint_url: str | None = None
    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    retry_attempts: int | None = None

    def get_lake(self) -> Lake:
        settings = get_settings()
        backend = self.backend or ("s3" if settings.uses_s3 else "local")
        if backend == "local" and self.local_dir:
            return LocalLake(self.local_dir)
        if backend == "s3" and self.aws_access_key_id and self.aws_secret_access_key:
            return S3Lake(
                endpoint_url=self.s3_endpoint_url or settings.s3_endpoint_url,
                access_key_id=self.aws_access_key_id,
                secret_access_key=self.aws_secret_access_key,
                region=self.aws_region or settings.aws_region,
                retry_attempts=self.retry_attempts or settings.lake_retry_attempts,
            )
        return build_lake(settings, backend)  # type: ignore[arg-type]

    def uri(self, bucket: str, key: str = "", engine: Engine = "native") -> str:
        return self.get_lake().uri(bucket, key, engine)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
