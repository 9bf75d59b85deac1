"""Connections of the ERP flow outside Dagster (CLI, benchmark): the same roles and databases as its assets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from shopflow_assets.domains.erp.contract import SOURCE_DATABASE
from shopflow_assets.resources.lake import Lake, build_lake
from shopflow_assets.resources.postgres import PostgresResource
from shopflow_assets.settings import WAREHOUSE_DATABASE, get_settings


def database(which: Literal["source", "warehouse"]) -> str:
    return SOURCE_DATABASE if which == "source" else WAREHOUSE_DATABASE


@contextmanager
def connect(
    role: Literal["owner", "reader"], which: Literal["source", "warehouse"], autocommit: bool = False
) -> Iterator[Any]:
    """The source is read through the read-only role; generators, state and loads use the owner."""
    resource = PostgresResource.from_settings(get_settings(), role=role, database=database(which))
    with resource.connect(autocommit=autocommit) as conn:
        yield conn


def lake() -> Lake:
    return build_lake(get_settings())
