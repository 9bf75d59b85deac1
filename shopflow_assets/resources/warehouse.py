"""The warehouse: a DuckDB file that reads the lake (Delta via `delta_scan`, Parquet, CSV) offline.

The httpfs and delta extensions come from the `duckdb-extension-*` wheels, not from the network:
`ensure_extension_directory()` lays them out as DuckDB expects (`<dir>/v<version>/<platform>/`), and
every connection — ours and dbt-duckdb's (`dbt_duckdb_profile()`) — uses that directory with
auto-install off. S3 access goes through a DuckDB secret, because the delta extension ignores
`SET s3_*` settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from shopflow_assets.settings import Settings, environ_with, environ_without, get_settings

EXTENSIONS = ("httpfs", "delta")
S3_SECRET_NAME = "shopflow_lake"


class WarehouseError(RuntimeError):
    """The warehouse could not be opened or prepared."""


def extension_file(name: str) -> Path:
    """The extension binary shipped in the `duckdb-extension-<name>` wheel for this DuckDB version."""
    import duckdb

    try:
        package = importlib.import_module(f"duckdb_extension_{name}")
    except ModuleNotFoundError:
        raise WarehouseError(
            f"the DuckDB {name} extension is not installed: add duckdb-extension-{name}=={duckdb.__version__} "
            "to pyproject.toml and run `uv sync`"
        ) from None
    path = (
        Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    )
    if not path.is_file():
        raise WarehouseError(
            f"{path} is missing: duckdb-extension-{name} must match duckdb {duckdb.__version__} exactly"
        )
    return path


def duckdb_platform() -> str:
    import duckdb

    return duckdb.execute("PRAGMA platform").fetchone()[0]


def extension_directory(settings: Settings) -> Path:
    return settings.home / "duckdb_extensions"


def ensure_extension_directory(settings: Settings | None = None) -> Path:
    """The extension directory with httpfs and delta linked in from the wheels (idempotent, offline)."""
    import duckdb

    settings = settings or get_settings()
    root = extension_directory(settings)
    target_dir = root / f"v{duckdb.__version__}" / duckdb_platform()
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in EXTENSIONS:
        source = extension_file(name)
        link = target_dir / f"{name}.duckdb_extension"
        # Re-link when the venv moved or was rebuilt; a link keeps the 50+ MB binaries in one place.
        if link.is_symlink() and link.resolve() == source.resolve():
            continue
        link.unlink(missing_ok=True)
        link.symlink_to(source)
    return root


def s3_endpoint_host(endpoint_url: str) -> str:
    """DuckDB wants the endpoint as host:port, the scheme going to USE_SSL."""
    return endpoint_url.split("://", 1)[-1].rstrip("/")


def s3_secret_options(settings: Settings) -> dict[str, Any] | None:
    """DuckDB S3 secret parameters for the lake's store, or None when no credentials are set."""
    if not settings.aws_access_key_id or settings.aws_secret_access_key is None:
        return None
    return {
        "type": "s3",
        "key_id": settings.aws_access_key_id,
        "secret": settings.secret("aws_secret_access_key"),
        "region": settings.aws_region,
        "endpoint": s3_endpoint_host(settings.s3_endpoint_url),
        "url_style": "path",
        "use_ssl": settings.s3_endpoint_url.startswith("https://"),
    }


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


def s3_secret_sql(settings: Settings, name: str = S3_SECRET_NAME) -> str | None:
    options = s3_secret_options(settings)
    if options is None:
        return None
    body = ", ".join(
        f"{key.upper()} {_sql_literal(value)}" for key, value in options.items() if key != "type"
    )
    return f"CREATE OR REPLACE SECRET {name} (TYPE s3, {body})"


def setup_sql(settings: Settings) -> list[str]:
    """Statements every warehouse connection runs after opening (extension directory set at open)."""
    statements = [f"LOAD {name}" for name in EXTENSIONS]
    secret = s3_secret_sql(settings)
    if secret:
        statements.append(secret)
    return statements


def connection_config(settings: Settings) -> dict[str, Any]:
    return {
        "extension_directory": str(extension_directory(settings)),
        # Offline by design: never try to download an extension.
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }


def dbt_duckdb_profile(settings: Settings | None = None, credentials_from_env: bool = True) -> dict[str, Any]:
    """The dbt-duckdb output (profiles.yml target) using the same file, extensions and S3 secret.

    With `credentials_from_env` the key and secret are `env_var()` references, so a rendered
    profiles.yml holds no credential.
    """
    settings = settings or get_settings()
    profile: dict[str, Any] = {
        "type": "duckdb",
        "path": str(settings.warehouse_path),
        "extensions": list(EXTENSIONS),
        # Under config_options (applied at connect), not settings: dbt-duckdb would try the network.
        "config_options": connection_config(settings),
        "threads": 2,
    }
    options = s3_secret_options(settings)
    if options is not None:
        if credentials_from_env:
            options["key_id"] = "{{ env_var('AWS_ACCESS_KEY_ID') }}"
            options["secret"] = "{{ env_var('AWS_SECRET_ACCESS_KEY') }}"
        profile["secrets"] = [options]
    return profile


@contextmanager
def connect_warehouse(settings: Settings | None = None, read_only: bool = False) -> Iterator[Any]:
    """A DuckDB connection to settings.warehouse_path with httpfs, delta and the S3 secret ready."""
    import duckdb

    settings = settings or get_settings()
    ensure_extension_directory(settings)
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = duckdb.connect(str(path), read_only=read_only, config=connection_config(settings))
    except duckdb.IOException as exc:
        raise WarehouseError(f"cannot open the DuckDB warehouse {path}: {exc}") from exc
    try:
        for statement in setup_sql(settings):
            connection.execute(statement)
        yield connection
    finally:
        connection.close()


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment variables dbt_project/profiles.yml reads: this warehouse file, its extensions, the S3
    store (the credentials only go into the environment of the dbt call, never into a file)."""
    env = {
        "SHOPFLOW_DUCKDB_PATH": str(settings.warehouse_path),
        "SHOPFLOW_DUCKDB_EXTENSION_DIR": str(extension_directory(settings)),
        "S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "AWS_REGION": settings.aws_region,
    }
    if settings.aws_access_key_id and settings.aws_secret_access_key is not None:
        env["AWS_ACCESS_KEY_ID"] = settings.aws_access_key_id
        env["AWS_SECRET_ACCESS_KEY"] = settings.secret("aws_secret_access_key")
    return env


@contextmanager
def dbt_environment(settings: Settings, extra: dict[str, str] | None = None) -> Iterator[None]:
    """dbt_env() (and `extra`) exported for the duration of a dbt invocation, then the previous environment
    restored (so a dbt run never leaves, say, SHOPFLOW_DUCKDB_PATH behind for later code in the process)."""
    ensure_extension_directory(settings)
    # dbt inherits os.environ: the S3 user of dbt_env(), not the PostgreSQL or alert secrets of the run.
    with environ_with({**dbt_env(settings), **(extra or {})}), environ_without():
        yield


class WarehouseResource(dg.ConfigurableResource):
    """Dagster's handle on the DuckDB warehouse; opening it does nothing until `connect()`.

    `duckdb_path` is the file (build_resources() fills it from SHOPFLOW_DUCKDB_PATH, default
    `$SHOPFLOW_HOME/warehouse.duckdb`, so the UI shows which file a run writes); left None it follows the
    settings in force when used. The S3 secret comes from the lake's credentials in the environment.
    """

    duckdb_path: str | None = None
    read_only: bool = False

    def effective_settings(self) -> Settings:
        settings = get_settings()
        if self.duckdb_path is None:
            return settings
        return settings.model_copy(update={"duckdb_path": Path(self.duckdb_path)})

    @contextmanager
    def connect(self, read_only: bool | None = None) -> Iterator[Any]:
        """A connection (see `connect_warehouse()`); `read_only` overrides the resource's for this one."""
        read_only = self.read_only if read_only is None else read_only
        with connect_warehouse(self.effective_settings(), read_only=read_only) as connection:
            yield connection

    @contextmanager
    def dbt_environment(self, extra: dict[str, str] | None = None) -> Iterator[None]:
        """The environment a dbt call against this warehouse needs (see `dbt_environment()`)."""
        with dbt_environment(self.effective_settings(), extra):
            yield

    @property
    def path(self) -> Path:
        return self.effective_settings().warehouse_path
