"""`shopflow generate ...` and `shopflow produce ...`: the generators and Kafka producers from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from rich.console import Console

from shopflow_assets.cli import UsageError
from shopflow_assets.cli import parse_date as _date

console = Console(stderr=True)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction within [0, 1], got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    generate = subparsers.add_parser(
        "generate", help="write reproducible input files (shop days, Olist CSVs)"
    )
    kinds = generate.add_subparsers(dest="dataset", required=True)

    shop = kinds.add_parser(
        "shop",
        help="Users.csv, Products.csv, Orders.csv (+ manifest.json) for one or more days",
        description="Scale 1 = 10,000 orders a day; users and products are proportional to the order count.",
    )
    shop.add_argument("--date", type=_date, required=True, help="first day, YYYY-MM-DD")
    shop.add_argument("--days", type=int, default=1, help="number of consecutive days (default 1)")
    shop.add_argument("--scale", type=float, default=1.0, help="1.0 = 10,000 orders a day")
    shop.add_argument("--orders", type=int, default=None, help="orders per day, exactly (overrides --scale)")
    shop.add_argument("--seed", type=int, default=42)
    shop.add_argument("--dirty-rate", type=_fraction, default=0.02, help="share of dirty rows per file")
    shop.add_argument(
        "--out",
        type=Path,
        default=None,
        help="root folder; each day goes to <out>/YYYY-MM-DD (default: home/incoming/shop)",
    )
    shop.set_defaults(func=_generate_shop)

    olist = kinds.add_parser(
        "olist",
        help="the nine Olist CSV files (+ manifest.json)",
        description="Scale 1 = the real Kaggle size (99,441 orders, ~1M geolocation rows).",
    )
    olist.add_argument("--scale", type=float, default=1.0)
    olist.add_argument("--seed", type=int, default=42)
    olist.add_argument("--out", type=Path, default=None, help="folder (default: home/incoming/olist)")
    olist.set_defaults(func=_generate_olist)

    register_produce(subparsers)


def _generate_shop(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shopflow_assets.datagen.shop import default_out_dir, generate_shop_day, shop_sizes

    if args.days < 1:
        raise UsageError(f"--days must be at least 1, got {args.days}")
    started = time.perf_counter()
    total_rows = 0
    with Progress(
        TextColumn("[bold]generate shop"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("days", total=args.days, rate="")
        for offset in range(args.days):
            day = args.date + dt.timedelta(days=offset)
            out_dir = args.out / day.isoformat() if args.out else default_out_dir(day)
            shop_sizes(day, args.scale, args.orders)  # a clear error for a bad scale before any work
            manifest = generate_shop_day(day, out_dir, args.scale, args.seed, args.dirty_rate, args.orders)
            total_rows += sum(counts.rows for counts in manifest.files.values())
            elapsed = time.perf_counter() - started
            progress.update(task, advance=1, rate=f"{total_rows / elapsed:,.0f} rows/s")
            counts = manifest.files
            console.print(
                f"{day}: {out_dir}  orders {counts['Orders.csv'].rows:,} ({counts['Orders.csv'].clean_rows:,} clean), "
                f"users {counts['Users.csv'].rows:,}, products {counts['Products.csv'].rows:,} "
                f"dirty rows {len(manifest.dirty_rows):,}, "
                f"expected revenue {manifest.expected_revenue:,.2f}"
            )
    return 0


def _generate_olist(args: argparse.Namespace) -> int:
    from shopflow_assets.datagen.olist import default_out_dir, generate_olist

    out_dir = args.out or default_out_dir()
    started = time.perf_counter()
    with console.status(f"generating Olist files at scale {args.scale} into {out_dir} ..."):
        manifest = generate_olist(out_dir, args.scale, args.seed)
    elapsed = time.perf_counter() - started
    total = sum(manifest.rows.values())
    for name, rows in manifest.rows.items():
        console.print(f"  {name:<42} {rows:>10,} rows")
    console.print(f"{total:,} rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s) -> {out_dir}")
    return 0


# --- produce -----------------------------------------------------------------------------------------
def _rate(text: str) -> float | str | None:
    """--rate: messages/s, 'max' (None: flat out) or 'gaps' (random gaps of --min-gap-ms..--max-gap-ms)."""
    if text == "max":
        return None
    if text == "gaps":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate must be a number, 'max' or 'gaps', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--rate must be positive or 'max', got {text}")
    return value


def _timestamp(text: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 timestamp: {text!r}") from exc
    return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _add_common_produce_flags(
    parser: argparse.ArgumentParser, *, duplicate: float, late: float, rate: str
) -> None:
    parser.add_argument(
        "--rate", type=_rate, default=rate, help=f"messages/s, 'max', or 'gaps' (random gaps; default {rate})"
    )
    parser.add_argument("--min-gap-ms", type=float, default=50.0, help="with --rate gaps")
    parser.add_argument("--max-gap-ms", type=float, default=200.0, help="with --rate gaps")
    parser.add_argument("--count", type=int, default=None, help="stop after this many messages")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--partitions", type=int, default=3, help="partitions of topics this run creates")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--duplicate-rate", type=_fraction, default=duplicate, help="share of messages re-sent"
    )
    parser.add_argument(
        "--late-rate", type=_fraction, default=late, help="share of messages with a time in the past"
    )
    parser.add_argument("--late-min", type=float, default=60.0, help="seconds a late message lags, at least")
    parser.add_argument("--late-max", type=float, default=300.0, help="seconds a late message lags, at most")
    parser.add_argument(
        "--bad-rate", type=_fraction, default=0.0, help="share of malformed messages (dead-letter tests)"
    )
    parser.add_argument("--manifest", type=Path, default=None, help="write the run's manifest (JSON) here")
    parser.add_argument(
        "--confirm-each", action="store_true", help="count a delivery report for every message"
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--oversized",
        choices=("skip", "fail"),
        default="skip",
        help="a record larger than Kafka accepts: skip and count it (default) or stop with an error",
    )


def register_produce(subparsers: argparse._SubParsersAction) -> None:
    produce = subparsers.add_parser("produce", help="stream generated events or Olist rows to Kafka")
    kinds = produce.add_subparsers(dest="stream", required=True)

    clicks = kinds.add_parser(
        "clicks", help="page-view clicks (user, page URL, time, action) to clicks_topic, keyed by user_id"
    )
    _add_common_produce_flags(clicks, duplicate=0.02, late=0.05, rate="100")
    clicks.add_argument("--topic", default="clicks_topic")
    clicks.add_argument(
        "--event-start", type=_timestamp, default=None, help="event time of the first event (default: now)"
    )
    clicks.add_argument(
        "--events-per-second",
        type=float,
        default=None,
        help="event-time density (default: --rate, or 1000 with max)",
    )
    clicks.add_argument("--first-event-id", type=int, default=1)
    clicks.add_argument(
        "--shop-scale", type=float, default=1.0, help="scale of the shop whose users/pages are clicked"
    )
    clicks.set_defaults(func=_produce_clicks)

    actions = kinds.add_parser(
        "actions",
        help="user actions (nested JSON: user identifiers, product, event time) to user_actions, keyed act<n>",
    )
    _add_common_produce_flags(actions, duplicate=0.0, late=0.0, rate="100")
    actions.add_argument("--topic", default="user_actions")
    actions.add_argument(
        "--event-start", type=_timestamp, default=None, help="event time of the first event (default: now)"
    )
    actions.add_argument("--events-per-second", type=float, default=None)
    actions.add_argument("--users", type=int, default=100_000)
    actions.set_defaults(func=_produce_actions)

    olist = kinds.add_parser(
        "olist", help="Olist rows to raw_orders, raw_order_items, raw_customers, raw_products, raw_sellers"
    )
    _add_common_produce_flags(olist, duplicate=0.02, late=0.05, rate="gaps")
    olist.add_argument(
        "--source",
        type=Path,
        default=None,
        help="Olist CSV folder (default: home/incoming/olist; or the Kaggle folder)",
    )
    olist.add_argument(
        "--tables", default="customers,sellers,products,orders,order_items", help="comma-separated subset"
    )
    olist.add_argument("--topic-suffix", default="", help="append _<suffix> to every topic name")
    olist.add_argument(
        "--timestamp-format",
        action="append",
        default=[],
        metavar="[TABLE=]FORMAT",
        help="strptime format of the timestamps (e.g. '%%d/%%m/%%Y %%H:%%M'), for every file or one table; "
        "without it each column's day/month order is detected, and an ambiguous column is refused",
    )
    olist.add_argument(
        "--update-rate", type=_fraction, default=0.0, help="share of orders re-sent with a newer status"
    )
    olist.set_defaults(func=_produce_olist)


def _ratios(args: argparse.Namespace):
    from shopflow_assets.datagen.events import Ratios

    ratios = Ratios(args.duplicate_rate, args.late_rate, args.bad_rate, args.late_min, args.late_max)
    try:
        ratios.validate()
    except ValueError as exc:
        raise UsageError(f"shopflow produce: {exc}") from exc
    return ratios


def _pace(args: argparse.Namespace):
    from shopflow_assets.datagen.producer import Pace

    if args.rate == "gaps":
        return Pace(min_gap_s=args.min_gap_ms / 1000, max_gap_s=args.max_gap_ms / 1000, seed=args.seed)
    return Pace(rate=args.rate, seed=args.seed)


def _event_density(args: argparse.Namespace) -> float:
    if args.events_per_second:
        return args.events_per_second
    return args.rate if isinstance(args.rate, float) else 1000.0


def _default_count(args: argparse.Namespace) -> int | None:
    return args.count if args.count is not None or args.duration else 10_000


def _produce_clicks(args: argparse.Namespace) -> int:
    from shopflow_assets.datagen.events import ClickOptions, click_stream
    from shopflow_assets.datagen.producer import ensure_topics

    options = ClickOptions(
        topic=args.topic,
        seed=args.seed,
        event_start=args.event_start or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        events_per_second=_event_density(args),
        first_event_id=args.first_event_id,
        shop_scale=args.shop_scale,
        count=_default_count(args),
        ratios=_ratios(args),
    )
    ensure_topics({args.topic: args.partitions})
    return _run("clicks", click_stream(options), args)


def _produce_actions(args: argparse.Namespace) -> int:
    from shopflow_assets.datagen.events import ActionOptions, action_stream
    from shopflow_assets.datagen.producer import ensure_topics

    options = ActionOptions(
        topic=args.topic,
        seed=args.seed,
        event_start=args.event_start or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
        events_per_second=_event_density(args),
        users=args.users,
        count=_default_count(args),
        ratios=_ratios(args),
    )
    ensure_topics({args.topic: args.partitions})
    return _run("actions", action_stream(options), args)


def _produce_olist(args: argparse.Namespace) -> int:
    from shopflow_assets.datagen.events import OLIST_TOPICS, OlistOptions, OlistStream
    from shopflow_assets.datagen.olist import default_out_dir
    from shopflow_assets.datagen.olist_files import STREAMED_FILES, OlistSourceError, check_olist_folder
    from shopflow_assets.datagen.producer import ensure_topics

    tables = tuple(name.strip() for name in args.tables.split(",") if name.strip())
    unknown = set(tables) - set(OLIST_TOPICS)
    if unknown or not tables:
        raise UsageError(
            f"shopflow produce olist: unknown tables {sorted(unknown)}; --tables takes a comma-separated "
            f"subset of {','.join(OLIST_TOPICS)}"
        )
    source = args.source or default_out_dir()
    try:
        check_olist_folder(source, [STREAMED_FILES[table] for table in tables])
    except OlistSourceError as exc:
        raise UsageError(f"shopflow produce olist --source: {exc}") from None
    from shopflow_assets.identifiers import UnsafeNameError, safe_topic
    from shopflow_assets.timestamp_formats import TimestampFormatError, parse_format_options

    try:  # a comma in the suffix would make a consumer's `subscribe` read a second topic
        for table in tables:
            safe_topic(OLIST_TOPICS[table] + (f"_{args.topic_suffix}" if args.topic_suffix else ""), "topic")
    except UnsafeNameError as exc:
        raise UsageError(f"shopflow produce olist --topic-suffix: {exc}") from None

    try:
        timestamp_formats = parse_format_options(args.timestamp_format)
    except ValueError as exc:
        raise UsageError(f"shopflow produce olist --timestamp-format: {exc}") from None
    options = OlistOptions(
        timestamp_formats=timestamp_formats,
        source=source,
        seed=args.seed,
        tables=tables,
        topic_suffix=args.topic_suffix,
        update_rate=args.update_rate,
        ratios=_ratios(args),
    )
    with console.status(f"reading Olist rows from {options.source} ..."):
        # small chunks when paced: a chunk's ingestion time is taken when it is built
        try:
            stream = OlistStream(options, chunk_size=2_000 if args.rate is None else 20)
        except TimestampFormatError as exc:
            raise UsageError(f"shopflow produce olist: {exc}") from None
    for table, blanks in stream.blank_rows.items():
        if blanks:
            console.print(f"{table}: skipped {blanks:,} blank rows")
    ensure_topics({options.topic(table): args.partitions for table in tables})
    manifest_updates = [
        {"order_id": row["order_id"], "order_status": row["order_status"]} for row in stream.updates
    ]
    extras = round(len(stream) * (options.ratios.duplicate_rate + options.ratios.bad_rate))
    return _run(
        "olist", stream.chunks(time.time), args, updates=manifest_updates, expected_total=len(stream) + extras
    )


def _run(
    stream_name: str,
    chunks,
    args: argparse.Namespace,
    updates: list[dict] | None = None,
    expected_total: int | None = None,
) -> int:
    from rich.table import Table

    from shopflow_assets.datagen.producer import send

    manifest = send(
        stream_name,
        chunks,
        pace=_pace(args),
        count=_default_count(args) if stream_name != "olist" else args.count,
        duration=args.duration,
        confirm_each=args.confirm_each,
        progress=not args.no_progress,
        expected_total=expected_total,
        oversized=args.oversized,
    )
    manifest.updates = updates or []
    table = Table(title=f"produce {stream_name} ({manifest.pace})")
    for column in ("topic", "sent", "originals", "duplicates", "late", "bad", "updates"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for topic, counts in manifest.topics.items():
        table.add_row(
            topic,
            *(
                f"{getattr(counts, name):,}"
                for name in ("sent", "originals", "duplicates", "late", "bad", "updates")
            ),
        )
    console.print(table)
    console.print(
        f"delivered {manifest.delivered:,} / produced {manifest.produced:,}, failed {manifest.failed:,}, "
        f"not confirmed {manifest.not_confirmed:,}; {manifest.elapsed_s:.2f} s, {manifest.rate:,.0f} msg/s"
        + (f"; valid events missing optional fields {manifest.partial:,}" if manifest.partial else "")
        + ("; stopped by Ctrl-C" if manifest.interrupted else "")
    )
    if manifest.delivery_errors:
        console.print(f"[red]delivery errors: {manifest.delivery_errors}")
    if manifest.oversized or manifest.oversized_records:
        console.print(f"[yellow]records too large for Kafka: {manifest.oversized:,} skipped")
        for record in manifest.oversized_records:
            console.print(
                f"  {record['topic']} key {record['key']!r}: {record['bytes']:,} bytes ({record['reason']})"
            )
    if args.manifest:
        manifest.write(args.manifest)
        console.print(f"manifest: {args.manifest}")
    if manifest.interrupted:
        return 130
    return 0 if manifest.failed == 0 and manifest.not_confirmed == 0 else 1
