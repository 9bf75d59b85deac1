"""PostgreSQL (the ERP source and the production warehouse target): psycopg 3 and Spark JDBC options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

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
    """Dagster's handle on PostgreSQL; constructing it connects to nothing."""

    connect_timeout: int = 5

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[Any]:
        with connect_postgres(
            get_settings(), autocommit=autocommit, connect_timeout=self.connect_timeout
        ) as conn:
            yield conn

    def require_reachable(self, timeout: float = 2.0) -> None:
        require_postgres(get_settings(), timeout)

    def spark_jdbc_options(self, table: str) -> dict[str, str]:
        return spark_jdbc_options(get_settings(), table)
