"""PostgreSQL (the operational sources and the relational warehouse): psycopg 3 and Spark JDBC options."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import dagster as dg
from pydantic import SecretStr

from shopflow_assets.devstack.health import require_reachable
from shopflow_assets.settings import Settings, get_settings

POSTGRES_DEFAULT_PORT = 5432


class PostgresError(RuntimeError):
    """PostgreSQL answered but refused the connection (credentials, database)."""


def postgres_address(settings: Settings) -> str:
    return f"{settings.postgres_host}:{settings.postgres_port}"


def require_postgres(settings: Settings, timeout: float = 2.0) -> None:
    require_reachable("PostgreSQL", postgres_address(settings), POSTGRES_DEFAULT_PORT, timeout=timeout)


@contextmanager
def connect_postgres(
    settings: Settings | None = None, autocommit: bool = False, connect_timeout: int = 5
) -> Iterator[Any]:
    """A psycopg connection; a stopped server raises ServiceUnavailableError naming the address."""
    import psycopg

    settings = settings or get_settings()
    require_postgres(settings)
    try:
        connection = psycopg.connect(
            settings.postgres_dsn, autocommit=autocommit, connect_timeout=connect_timeout
        )
    except psycopg.OperationalError as exc:
        raise PostgresError(
            f"PostgreSQL at {postgres_address(settings)} refused database {settings.postgres_db!r} "
            f"for user {settings.postgres_user!r}: {str(exc).strip()}"
        ) from exc
    try:
        with connection:
            yield connection
    finally:
        connection.close()


def spark_jdbc_options(settings: Settings, table: str) -> dict[str, str]:
    """Options for `spark.read/write.format("jdbc")` (the driver jar is in spark/pom.xml)."""
    return {
        "url": settings.postgres_jdbc_url,
        "dbtable": table,
        "user": settings.postgres_user,
        "password": settings.secret("postgres_password"),
        "driver": "org.postgresql.Driver",
    }


class PostgresResource(dg.ConfigurableResource):
    """Dagster's handle on one PostgreSQL login; constructing it connects to nothing.

    Two are registered: `postgres` (the owner role: DDL, generators, warehouse loads, state tables) and
    `postgres_reader` (the read-only role every extraction from an operational source uses). A field left
    unset falls back to the settings, so `PostgresResource()` is the owner role of this environment.
    """

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    connect_timeout: int = 5

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        role: Literal["owner", "reader"] = "owner",
        database: str | None = None,
    ) -> PostgresResource:
        """The resource for one role. The password is an EnvVar (the UI shows the name, not the value)."""
        user, password_var = (
            (settings.postgres_user, "POSTGRES_PASSWORD")
            if role == "owner"
            else (settings.postgres_reader_user, "POSTGRES_READER_PASSWORD")
        )
        return cls(
            host=settings.postgres_host,
            port=settings.postgres_port,
            user=user,
            password=dg.EnvVar(password_var) if os.environ.get(password_var) else None,
            database=database or settings.postgres_db,
        )

    def _settings(self, database: str | None) -> Settings:
        settings = get_settings()
        update: dict[str, Any] = {
            "postgres_host": self.host or settings.postgres_host,
            "postgres_port": self.port or settings.postgres_port,
            "postgres_user": self.user or settings.postgres_user,
            "postgres_db": database or self.database or settings.postgres_db,
        }
        if self.password is not None:
            # Outside a Dagster run (CLI, benchmarks, tests) an EnvVar field is not resolved yet.
            password = self.password.get_value() if isinstance(self.password, dg.EnvVar) else self.password
            update["postgres_password"] = SecretStr(password)
        elif self.user and self.user != settings.postgres_user:
            # Another role without a configured password: never fall back to the owner's.
            update["postgres_password"] = settings.postgres_reader_password
        return settings.model_copy(update=update)

    @contextmanager
    def connect(self, database: str | None = None, autocommit: bool = False) -> Iterator[Any]:
        """A psycopg connection to `database` (default: the resource's); closed on exit."""
        with connect_postgres(
            self._settings(database), autocommit=autocommit, connect_timeout=self.connect_timeout
        ) as conn:
            yield conn

    def require_reachable(self, timeout: float = 2.0) -> None:
        require_postgres(self._settings(None), timeout)

    def spark_jdbc_options(self, table: str, database: str | None = None) -> dict[str, str]:
        return spark_jdbc_options(self._settings(database), table)
