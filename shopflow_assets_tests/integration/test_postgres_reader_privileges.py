"""The read-only role connects to the databases it reads (the sources, the warehouse) and to no other.

The grants are applied by `shopflow services up` on every start (devstack.up runs the bootstrap on a
running server too, idempotently), so this test applies them the same way on the shared stack.
"""

import datetime as dt
import uuid

import psycopg
import pytest
from psycopg import sql

from shopflow_assets import devstack
from shopflow_assets.devstack.postgres import MAINTENANCE_DATABASE
from shopflow_assets.domains.erp.runner import change_bound
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.settings import SOURCE_DATABASES, WAREHOUSE_DATABASE, reload_settings

pytestmark = pytest.mark.stack

READ_DATABASES = (*SOURCE_DATABASES, WAREHOUSE_DATABASE)


@pytest.fixture(scope="module")
def settings():
    settings = reload_settings()
    # Twice: the bootstrap must be repeatable on a server that already has every grant.
    for _ in range(2):
        devstack.up(["postgres"], settings=settings, reporter=devstack.quiet_reporter())
    return reload_settings()


def connect_as_reader(settings, database: str) -> psycopg.Connection:
    return psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=database,
        user=settings.postgres_reader_user,
        password=settings.secret("postgres_reader_password"),
        connect_timeout=5,
    )


def test_the_reader_is_refused_connect_to_the_databases_it_does_not_read(settings):
    for database in (settings.postgres_db, MAINTENANCE_DATABASE):
        with pytest.raises(psycopg.OperationalError, match=f'permission denied for database "{database}"'):
            connect_as_reader(settings, database).close()


def test_the_reader_reads_its_sources_and_the_warehouse_and_writes_nothing(settings):
    owner = PostgresResource.from_settings(settings, role="owner")
    table = f"reader_grant_test_{uuid.uuid4().hex[:10]}"
    for database in READ_DATABASES:
        with owner.connect(database=database, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(table)))
            conn.execute(sql.SQL("INSERT INTO {} VALUES (1), (2), (3)").format(sql.Identifier(table)))
    try:
        for database in READ_DATABASES:
            with connect_as_reader(settings, database) as conn:
                count = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                ).fetchone()
                assert count == (3,), database
                with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                    conn.execute(sql.SQL("INSERT INTO {} VALUES (4)").format(sql.Identifier(table)))
    finally:
        for database in READ_DATABASES:
            with owner.connect(database=database, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def test_the_owner_still_connects_to_every_project_database(settings):
    owner = PostgresResource.from_settings(settings, role="owner")
    for database in (settings.postgres_db, *READ_DATABASES):
        with owner.connect(database=database) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (database,)


def test_the_reader_sees_when_another_roles_writing_transaction_began(settings):
    """Why the reader is in pg_read_all_stats: without it the owner's xact_start is hidden (NULL) to the
    reader, and the ERP window could pass rows written by a transaction that has not committed yet."""
    owner = PostgresResource.from_settings(settings, role="owner")
    source = SOURCE_DATABASES[0]
    with owner.connect(database=source) as writer:
        writer.execute("SELECT txid_current()")  # a transaction id, as a writing transaction has
        (began,) = writer.execute(
            "SELECT xact_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        ).fetchone()
        with connect_as_reader(settings, source) as reader:
            now, up_to = change_bound(reader, safety_lag_seconds=0)
        writer.rollback()
    assert began < now
    assert up_to <= began - dt.timedelta(microseconds=1)
