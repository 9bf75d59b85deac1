"""MinIO, the local S3 server, built from source with the Go toolchain and cached across clones.

MinIO's community edition ships as source only. Its RELEASE.* tags are refused by the Go module proxy
(403), so the build pins the pseudo-version of the newest commit the proxy serves (see docs/services.md).
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from shopflow_assets.devstack.base import DevstackError, NativeService, Reporter, run_logged
from shopflow_assets.devstack.health import ServiceUnavailableError, port_open, split_address
from shopflow_assets.devstack.process import LaunchSpec, file_lock
from shopflow_assets.settings import BUCKETS, Settings

RAW_BUCKET = "raw-data"

MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"


def binary_path(settings: Settings) -> Path:
    return settings.cache_dir / f"minio-{MINIO_VERSION}" / "minio"


def validate_root_credentials(user: str, password: str) -> None:
    # MinIO's own limits; checked here so the error names the variables instead of a crash in the log.
    if len(user) < 3:
        raise DevstackError("MINIO_ROOT_USER is MinIO's root user and needs at least 3 characters")
    if len(password) < 8:
        raise DevstackError("MINIO_ROOT_PASSWORD is MinIO's root password and needs at least 8 characters")


def s3_client(settings: Settings, *, root: bool = False):
    """A boto3 S3 client with the pipeline user's key, or with MinIO's root key (set-up only)."""
    import boto3
    from botocore.config import Config

    user, password = (
        ("minio_root_user", "minio_root_password") if root else ("aws_access_key_id", "aws_secret_access_key")
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.secret(user),
        aws_secret_access_key=settings.secret(password),
        region_name=settings.aws_region,
        config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=3,
            read_timeout=10,
            retries={"max_attempts": 2},
        ),
    )


def ensure_buckets(settings: Settings, buckets: tuple[str, ...] = BUCKETS) -> list[str]:
    """Create the missing buckets (with the root key); returns the ones created (empty when all existed)."""
    client = s3_client(settings, root=True)
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    created = []
    for bucket in buckets:
        if bucket not in existing:
            # Object Lock can only be switched on when a bucket is created (MinIO and S3 alike).
            client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=bucket == RAW_BUCKET)
            created.append(bucket)
    return created


RAW_UNLOCKED_HINT = (
    "raw-data has no Object Lock (created before the lock existed; MinIO cannot add one to an existing "
    "bucket). Its data is kept. To get the lock: copy what you need out, then "
    "`shopflow services reset minio` (deletes MinIO's data) and `shopflow services up` (docs/services.md)"
)


class MinioService(NativeService):
    name = "minio"
    title = "MinIO"
    start_timeout = 60.0
    stop_timeout = 20.0

    def address(self, settings: Settings) -> str:
        return settings.s3_endpoint_url.rstrip("/")

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [
            split_address(settings.s3_endpoint_url, 9000),
            split_address(settings.minio_console_address, 9001),
        ]

    def storage_dir(self, settings: Settings) -> Path:
        return self.data_dir(settings) / "data"

    def ensure_binary(self, settings: Settings, reporter: Reporter) -> Path:
        """The pinned MinIO binary from the shared cache, built with `go install` on first use."""
        binary = binary_path(settings)
        if binary.exists():
            return binary
        go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
        if go is None:
            raise DevstackError(
                "MinIO is built from source and needs the Go toolchain (>= 1.24): install it from "
                "https://go.dev/dl/ or `apt-get install golang`, then run `shopflow services up` again."
            )
        with file_lock(binary.parent.with_name(f".{binary.parent.name}.lock")):
            if binary.exists():
                return binary
            partial = binary.parent.with_name(f".{binary.parent.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            env = {**os.environ, "CGO_ENABLED": "0", "GOBIN": str(partial)}
            with reporter.phase(self.name, "build minio from source (minutes)", announce=True) as update:
                run_logged(
                    [go, "install", "-v", f"{MINIO_MODULE}@{MINIO_VERSION}"],
                    self.log_file(settings),
                    update,
                    env=env,
                    cwd=settings.cache_dir,
                    what=f"Building MinIO {MINIO_VERSION} with `go install`",
                )
            shutil.rmtree(binary.parent, ignore_errors=True)
            partial.rename(binary.parent)
        return binary

    def prepare(self, settings: Settings, reporter: Reporter) -> None:
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        self.ensure_binary(settings, reporter)
        validate_root_credentials(settings.secret("minio_root_user"), settings.secret("minio_root_password"))
        self.storage_dir(settings).mkdir(parents=True, exist_ok=True)

    def launch_spec(self, settings: Settings) -> LaunchSpec:
        host, port = split_address(settings.s3_endpoint_url, 9000)
        console_host, console_port = split_address(settings.minio_console_address, 9001)
        return LaunchSpec(
            argv=[
                str(binary_path(settings)),
                "server",
                str(self.storage_dir(settings)),
                "--address",
                f"{host}:{port}",
                "--console-address",
                f"{console_host}:{console_port}",
            ],
            env={
                "MINIO_ROOT_USER": settings.secret("minio_root_user"),
                "MINIO_ROOT_PASSWORD": settings.secret("minio_root_password"),
                "MINIO_REGION": settings.aws_region,
                # Its config and temporary files stay in the stack, not in ~/.minio.
                "HOME": str(self.data_dir(settings)),
                "MINIO_UPDATE": "off",
            },
            cwd=self.data_dir(settings),
        )

    def check(self, settings: Settings, timeout: float = 3.0) -> None:
        address = self.address(settings)
        host, port = split_address(address, 9000)
        if not port_open(host, port, timeout=min(1.0, timeout)):
            raise ServiceUnavailableError(self.title, f"{host}:{port}", "nothing listens on that port")
        try:
            # No proxy: a corporate HTTP proxy from the environment must not swallow a loopback check.
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"{address}/minio/health/live", timeout=timeout) as response:
                if response.status == 200:
                    return
                hint = f"health endpoint answered HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            hint = f"health endpoint answered HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            hint = f"GET /minio/health/live failed: {getattr(exc, 'reason', exc)}"
        raise ServiceUnavailableError(self.title, f"{host}:{port}", hint)

    def after_start(self, settings: Settings, reporter: Reporter) -> None:
        from shopflow_assets.devstack.minio_iam import ensure_pipeline_user, protect_raw_bucket

        with reporter.phase(self.name, "buckets") as _:
            created = ensure_buckets(settings)
            locked = protect_raw_bucket(s3_client(settings, root=True))
        with reporter.phase(self.name, "pipeline user"):
            ensure_pipeline_user(settings)
        reporter.say(self.name, f"created buckets: {', '.join(created)}" if created else "all buckets exist")
        if not locked:
            reporter.say(self.name, f"warning: {RAW_UNLOCKED_HINT}")

    def status_note(self, settings: Settings) -> str:
        """Shown by `services status` for a healthy MinIO: whether raw-data is locked as it should be."""
        from shopflow_assets.devstack.minio_iam import raw_object_lock

        try:
            if raw_object_lock(s3_client(settings, root=True)) is None:
                return RAW_UNLOCKED_HINT
        except Exception:  # noqa: BLE001 - a note must never turn a healthy status into an error
            return ""
        return ""
