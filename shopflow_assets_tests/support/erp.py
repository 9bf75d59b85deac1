"""A throw-away ERP stack for one test: its own totesys and warehouse databases and lake prefix.

The databases are real PostgreSQL databases on the `shopflow services up` server, readable by the real
read-only role; the lake is the real MinIO. Everything is dropped afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from shopflow_assets.datagen.erp import ErpSizes, ensure_source_schema, generate_erp
from shopflow_assets.devstack.minio_iam import purge_with_root
from shopflow_assets.domains.erp import runner
from shopflow_assets.resources.lake import Lake, build_lake
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.settings import Settings

SMALL = ErpSizes(
    addresses=6, counterparties=5, departments=4, designs=8, staff=6, sales_orders=60, purchase_orders=30
)


@dataclass
class ErpStack:
    settings: Settings
    owner: PostgresResource
    reader: PostgresResource
    source_db: str
    warehouse_db: str
    prefix: str
    lake: Lake

    @contextmanager
    def source(self) -> Iterator[Any]:
        with self.owner.connect(database=self.source_db) as conn:
            conn.autocommit = True
            yield conn

    @contextmanager
    def warehouse(self) -> Iterator[Any]:
        with self.owner.connect(database=self.warehouse_db) as conn:
            conn.autocommit = True
            yield conn

    def ingest(self, **options: Any) -> runner.IngestResult:
        options.setdefault("safety_lag_seconds", 0.0)  # the test's changes are committed before it runs
        options.setdefault("prefix", self.prefix)
        with (
            self.reader.connect(database=self.source_db) as reader,
            self.owner.connect(database=self.warehouse_db) as state,
        ):
            return runner.ingest(reader, state, self.lake, **options)

    def transform(self) -> runner.TransformResult:
        with self.owner.connect(database=self.warehouse_db) as state:
            return runner.transform(state, self.lake, prefix=self.prefix)

    def load(self) -> runner.LoadResult:
        with self.owner.connect(database=self.warehouse_db) as conn:
            return runner.load(conn, self.lake)

    def run(self) -> runner.LoadResult:
        self.ingest()
        self.transform()
        return self.load()

    def raw_keys(self, table: str) -> list[str]:
        return self.lake.list_keys(runner.RAW_BUCKET, f"{self.prefix}/{table}/")

    def watermarks(self) -> dict[str, Any]:
        with self.warehouse() as conn:
            runner.ensure_warehouse(conn)
            return runner.read_watermarks(conn)


@contextmanager
def erp_stack(settings: Settings, sizes: ErpSizes = SMALL, seed: int = 3) -> Iterator[ErpStack]:
    tag = uuid.uuid4().hex[:10]
    owner = PostgresResource.from_settings(settings, role="owner")
    reader = PostgresResource.from_settings(settings, role="reader")
    source_db, warehouse_db = f"totesys_t{tag}", f"warehouse_t{tag}"
    with owner.connect(database=settings.postgres_db, autocommit=True) as admin:
        for name in (source_db, warehouse_db):
            # template0: nobody is ever connected to it, so parallel creations do not collide on template1.
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    stack = ErpStack(
        settings=settings,
        owner=owner,
        reader=reader,
        source_db=source_db,
        warehouse_db=warehouse_db,
        prefix=f"_tests/{tag}/erp",
        lake=build_lake(settings.model_copy(update={"env": "docker", "lake_retry_attempts": 2})),
    )
    try:
        with stack.source() as conn:
            ensure_source_schema(conn)
            # What the stack does for the real totesys: the read-only role may read every table.
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(source_db), sql.Identifier(settings.postgres_reader_user)
                )
            )
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(
                    sql.Identifier(settings.postgres_reader_user)
                )
            )
            conn.execute(
                sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
                    sql.Identifier(settings.postgres_reader_user)
                )
            )
            conn.autocommit = False
            generate_erp(conn, sizes, seed=seed)
            conn.commit()
            conn.autocommit = True
        yield stack
    finally:
        with owner.connect(database=settings.postgres_db, autocommit=True) as admin:
            for name in (source_db, warehouse_db):
                _drop_database(admin, name)
        # Raw objects need MinIO's root key: the pipeline's own key may not delete from raw-data.
        purge_with_root(settings, runner.RAW_BUCKET, f"_tests/{tag}/")
        for key in stack.lake.list_keys(runner.PROCESSED_BUCKET, f"_tests/{tag}/"):
            stack.lake.client.delete_object(Bucket=runner.PROCESSED_BUCKET, Key=key)


def _drop_database(admin: Any, name: str, timeout_s: float = 30.0) -> None:
    """Drop one test database, bounded in time.

    Not `WITH (FORCE)`: run by a non-superuser, FORCE fails with InsufficientPrivilege on any process of
    another role in the database, and PostgreSQL 15 counts an autovacuum worker analysing the freshly loaded
    tables as one (seen in CI). A plain DROP stops autovacuum workers itself and only refuses while a client
    session remains: the owner's own are ended here, and a just-closed reader session exits a moment later,
    so the DROP is retried until the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
            (name,),
        )
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            return
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def rows(conn: Any, query: str, *params: Any) -> list[tuple]:
    return [tuple(r) for r in conn.execute(query, params).fetchall()]
