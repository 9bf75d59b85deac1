"""`shopflow generate erp`, `shopflow simulate erp` and `shopflow erp ingest|transform|load|run|resync`.

The ERP source (database totesys) and the warehouse (database warehouse) are the PostgreSQL of
`shopflow services up`; the lake is MinIO when SHOPFLOW_ENV=docker, a directory otherwise. Ingestion reads
through the read-only role; everything else uses the owner role.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from rich.console import Console

from shopflow_assets.cli import positive

console = Console(stderr=True)


@contextmanager
def connect(
    role: Literal["owner", "reader"], which: Literal["source", "warehouse"], autocommit: bool = False
) -> Iterator[Any]:
    """The ERP databases outside Dagster (CLI, benchmark), with the same roles as its assets: the source
    is read through the read-only role; generators, state and loads use the owner. Imports stay inside the
    functions: the resources package loads Dagster, which `shopflow --help` should not wait for."""
    from shopflow_assets.contracts.erp import SOURCE_DATABASE
    from shopflow_assets.resources.postgres import PostgresResource
    from shopflow_assets.settings import WAREHOUSE_DATABASE, get_settings

    database = SOURCE_DATABASE if which == "source" else WAREHOUSE_DATABASE
    resource = PostgresResource.from_settings(get_settings(), role=role, database=database)
    with resource.connect(autocommit=autocommit) as conn:
        yield conn


def lake() -> Any:
    from shopflow_assets.resources.lake import build_lake
    from shopflow_assets.settings import get_settings

    return build_lake(get_settings())


def dataset_group(
    subparsers: argparse._SubParsersAction, name: str, help_text: str
) -> argparse._SubParsersAction:
    """The `<name> <dataset>` sub-command group, shared by the modules that add a dataset to it."""
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = subparsers.add_parser(name, help=help_text)
        return parser.add_subparsers(dest="dataset", required=True)
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def register(subparsers: argparse._SubParsersAction) -> None:
    generate = dataset_group(subparsers, "generate", "write reproducible input data")
    erp = generate.add_parser(
        "erp",
        help="create the totesys tables and fill them with a consistent fake history",
        description="Scale 1 = 3,000 sales orders, 1,500 purchase orders, a transaction and a payment each, "
        "25 staff, 20 counterparties, 30 addresses, 3 currencies.",
    )
    erp.add_argument("--scale", type=positive(float), default=1.0)
    erp.add_argument("--seed", type=int, default=42)
    erp.add_argument(
        "--reset",
        action="store_true",
        help="DELETE every row of the totesys tables first (asks; identities restart)",
    )
    erp.add_argument("--yes", action="store_true", help="with --reset: do not ask for confirmation")
    erp.set_defaults(func=_generate)

    simulate = dataset_group(subparsers, "simulate", "change an OLTP source like its live application")
    live = simulate.add_parser(
        "erp",
        help="insert orders and payments and update prices, dates, addresses and names in totesys",
    )
    live.add_argument("--changes-per-minute", type=positive(float), required=True)
    live.add_argument("--duration", type=positive(float), required=True, help="seconds")
    live.add_argument("--seed", type=int, default=7)
    live.set_defaults(func=_simulate)

    flow = subparsers.add_parser("erp", help="run the ERP flow's stages once by hand")
    stages = flow.add_subparsers(dest="stage", required=True)
    ingest = stages.add_parser("ingest", help="totesys changes since the watermarks -> new raw objects")
    ingest.add_argument("--table", action="append", dest="tables", help="only this table (repeatable)")
    ingest.add_argument("--safety-lag", type=float, default=None, help="seconds behind the source clock")
    ingest.set_defaults(func=_stage, stages=("ingest",))
    for name, help_text, chain in (
        ("transform", "raw objects not processed yet -> the star schema in processed", ("transform",)),
        ("load", "pending processed batches -> the warehouse", ("load",)),
        ("run", "ingest, transform and load once", ("ingest", "transform", "load")),
    ):
        stage = stages.add_parser(name, help=help_text)
        stage.set_defaults(func=_stage, stages=chain, tables=None, safety_lag=None)
    resync = stages.add_parser(
        "resync",
        help="after a lost lake: rebuild the processed layer and the warehouse from totesys",
        description="Clears the ERP state (watermarks, batches), extracts every totesys table whole into new "
        "raw objects and transforms and loads exactly those, in one transaction: the warehouse keeps its "
        "fact history and no row doubles; on failure nothing changes.",
    )
    resync.add_argument("--safety-lag", type=float, default=None, help="seconds behind the source clock")
    resync.set_defaults(func=_resync)


def _generate(args: argparse.Namespace) -> int:
    from shopflow_assets.datagen.erp import ErpSizes, ensure_source_schema, generate_erp, reset_source

    if args.reset and not args.yes and not _confirm_reset():
        return 1
    started = time.perf_counter()
    with connect("owner", "source") as conn:
        ensure_source_schema(conn)
        if args.reset:
            reset_source(conn)
        conn.commit()
        counts = generate_erp(conn, ErpSizes.for_scale(args.scale), seed=args.seed)
    total = sum(counts.values())
    console.print(f"generated {total:,} rows in totesys in {time.perf_counter() - started:.1f}s")
    print(json.dumps(counts))
    return 0


def _confirm_reset() -> bool:
    """Ask before emptying the ERP source, as `shopflow services reset` does; no terminal means no."""
    try:
        answer = input(
            "Delete every row of the ERP source (PostgreSQL database totesys: orders, payments, staff, ...)? "
            "The warehouse keeps what it loaded. [y/N] "
        )
    except EOFError:
        answer = ""
        print("\nno answer (no terminal): add --yes to reset without asking")
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("nothing deleted")
    return False


def _simulate(args: argparse.Namespace) -> int:
    from shopflow_assets.datagen.erp import simulate_erp

    console.print(f"simulating {args.changes_per_minute:g} changes/min for {args.duration:g}s in totesys")
    done = simulate_erp(
        lambda: connect("owner", "source"), args.changes_per_minute, args.duration, seed=args.seed
    )
    print(json.dumps(dict(done)))
    return 0


def _stage(args: argparse.Namespace) -> int:
    from shopflow_assets.domains.erp import runner

    summary: dict[str, object] = {}
    failed = False
    for stage in args.stages:
        if stage == "ingest":
            lag = runner.DEFAULT_SAFETY_LAG_SECONDS if args.safety_lag is None else args.safety_lag
            with (
                connect("reader", "source", autocommit=True) as reader,
                connect("owner", "warehouse") as state,
            ):
                result = runner.ingest(reader, state, lake(), args.tables, safety_lag_seconds=lag)
            summary["ingest"] = {
                t: {"rows": r.rows, "object": r.key, "error": r.error} for t, r in result.tables.items()
            }
            for table, entry in result.failed.items():
                console.print(f"[red]{table}: {entry.error}")
                failed = True
        elif stage == "transform":
            with connect("owner", "warehouse") as state:
                done = runner.transform(state, lake())
            summary["transform"] = {"batch": done.batch_id, "rows": done.rows}
        else:
            with connect("owner", "warehouse") as warehouse:
                loaded = runner.load(warehouse, lake())
            summary["load"] = {"batches": loaded.batches, "rows": loaded.rows}
    print(json.dumps(summary, indent=2))
    return 1 if failed else 0


def _resync(args: argparse.Namespace) -> int:
    from shopflow_assets.domains.erp import runner

    lag = runner.DEFAULT_SAFETY_LAG_SECONDS if args.safety_lag is None else args.safety_lag
    started = time.perf_counter()
    with connect("reader", "source", autocommit=True) as reader, connect("owner", "warehouse") as state:
        done = runner.resync(reader, state, lake(), safety_lag_seconds=lag)
    extracted = {t: r.rows for t, r in done.ingest.tables.items()}
    console.print(
        f"erp resync: {sum(extracted.values()):,} source rows re-extracted, batch {done.transform.batch_id} "
        f"loaded in {time.perf_counter() - started:.1f}s"
    )
    print(json.dumps({"extracted": extracted, "loaded": done.load.rows}, indent=2))
    return 0
