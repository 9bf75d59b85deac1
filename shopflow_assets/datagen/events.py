"""Streams of pre-serialized Kafka messages: click events, user actions and Olist rows,
with duplicates, late and malformed messages planted at exact, recorded positions.

A stream is an iterator of `MessageChunk`s. Clicks and actions are built a chunk at a time with Arrow
string kernels (no Python loop per event): the JSON text of every event is assembled column-wise, which
is what lets one core keep a producer fed at hundreds of thousands of events a second. Message i of a
stream depends only on (seed, i // CHUNK_SIZE, options), so a run is reproducible whatever its length.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_assets.contracts.marketplace import CUSTOMERS, ORDER_ITEMS, ORDERS, PRODUCTS, SELLERS
from shopflow_assets.datagen import csvio

CHUNK_SIZE = 20_000

# Kinds of malformed message a dead-letter queue must catch.
NOT_JSON, MISSING_FIELD, WRONG_TYPE = "not_json", "missing_field", "wrong_type"
BAD_KINDS = (NOT_JSON, MISSING_FIELD, WRONG_TYPE)


@dataclass
class Ratios:
    """Shares of the messages that are duplicates, late and malformed (exact per chunk, rounded)."""

    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    bad_rate: float = 0.0
    late_min_s: float = 60.0
    late_max_s: float = 300.0

    def validate(self) -> None:
        for name in ("duplicate_rate", "late_rate", "bad_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 0.5:
                raise ValueError(f"{name} must be within [0, 0.5], got {value}")
        if self.duplicate_rate + self.bad_rate > 0.9:
            raise ValueError("duplicate_rate + bad_rate leaves no room for original messages")
        if not 0 <= self.late_min_s <= self.late_max_s:
            raise ValueError(
                f"late delay range must satisfy 0 <= min <= max, got {self.late_min_s}..{self.late_max_s}"
            )


@dataclass
class BadMessage:
    topic: str
    key: str  # the message key
    kind: str  # not_json | missing_field | wrong_type
    detail: str
    id: str  # the event it was made from: event_id (clicks), key (actions), primary key (olist)


@dataclass
class MessageChunk:
    """Messages ready to send, in order. `kinds` holds one of ORIGINAL/DUPLICATE/BAD per message."""

    topics: list[str]
    keys: list[bytes]
    values: list[bytes]
    kinds: np.ndarray  # int8 codes, see ORIGINAL etc.
    late: np.ndarray  # bool: an original sent with an event/ingestion time in the past
    partial: np.ndarray | None = None  # bool: valid events that legitimately lack optional fields
    bad: list[BadMessage] = field(default_factory=list)
    late_ids: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    updates: np.ndarray | None = None  # bool, Olist: originals that are updated versions of an earlier row


ORIGINAL, DUPLICATE, BAD = 0, 1, 2


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _exact(n: int, rate: float) -> int:
    return int(round(n * rate))


def plan_kinds(n: int, ratios: Ratios, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For n message slots: (kinds, late mask, source of each duplicate slot or -1).

    Exact counts: round(n * rate) duplicates, bad and late messages. Duplicates copy an earlier
    original of the same chunk; late ones are originals; slot 0 is always an original.
    """
    kinds = np.full(n, ORIGINAL, dtype=np.int8)
    n_dup, n_bad = _exact(n, ratios.duplicate_rate), _exact(n, ratios.bad_rate)
    special = (
        rng.choice(np.arange(1, n), size=min(n - 1, n_dup + n_bad), replace=False)
        if n > 1
        else np.array([], int)
    )
    kinds[special[:n_dup]] = DUPLICATE
    kinds[special[n_dup:]] = BAD
    originals = np.flatnonzero(kinds == ORIGINAL)
    late = np.zeros(n, dtype=bool)
    late[rng.choice(originals, size=min(len(originals), _exact(n, ratios.late_rate)), replace=False)] = True
    source = np.full(n, -1, dtype=np.int64)
    dup_slots = np.flatnonzero(kinds == DUPLICATE)
    # the source of a duplicate: a random original before it (originals before slot s: originals[:k])
    before = np.searchsorted(originals, dup_slots)
    source[dup_slots] = originals[(rng.random(len(dup_slots)) * before).astype(np.int64)]
    return kinds, late, source


def _chunk_length(first: int, count: int | None) -> int:
    return CHUNK_SIZE if count is None else max(0, min(CHUNK_SIZE, count - first))


def _join(*parts) -> pa.Array:
    pieces = [csvio.lit(part) if isinstance(part, str) else csvio.as_strings(part) for part in parts]
    return pc.binary_join_element_wise(*pieces, csvio.lit(""))


def _to_bytes(array: pa.Array) -> list[bytes]:
    return csvio.as_strings(array).cast(pa.large_binary()).to_pylist()


def _event_seconds(
    start: dt.datetime, density: float, first: int, n: int, late: np.ndarray, ratios: Ratios, rng
) -> np.ndarray:
    """Event time of messages first..first+n: `density` events per event-time second from `start`;
    late ones are moved back by late_min_s..late_max_s."""
    base = int(start.replace(tzinfo=dt.UTC).timestamp()) if start.tzinfo is None else int(start.timestamp())
    seconds = base + np.floor((first + np.arange(n)) / density).astype(np.int64)
    delay = rng.uniform(ratios.late_min_s, ratios.late_max_s, n).astype(np.int64)
    return np.where(late, seconds - delay, seconds)


def _corrupt(
    value: bytes, kind: str, mutate: Callable[[dict, str, np.random.Generator], str], rng
) -> tuple[bytes, str]:
    """A malformed version of a JSON message: cut short (not JSON), or changed by `mutate`."""
    if kind == NOT_JSON:
        cut = max(1, int(len(value) * rng.uniform(0.3, 0.9)))
        return value[:cut], f"JSON cut after {cut} bytes"
    record = orjson.loads(value)
    detail = mutate(record, kind, rng)
    return orjson.dumps(record), detail


def _assemble(
    topic: str,
    keys: pa.Array,
    values: pa.Array,
    kinds: np.ndarray,
    late: np.ndarray,
    source: np.ndarray,
    ids: np.ndarray,
    mutate,
    rng,
) -> MessageChunk:
    """Apply the plan: duplicate slots take their source's key and value; bad slots are corrupted."""
    take = np.where(source >= 0, source, np.arange(len(kinds)))
    key_list = _to_bytes(pc.take(keys, pa.array(take)))
    value_list = _to_bytes(pc.take(values, pa.array(take)))
    bad = []
    bad_slots = np.flatnonzero(kinds == BAD)
    bad_kinds = np.array(BAD_KINDS)[rng.integers(0, len(BAD_KINDS), len(bad_slots))]
    for slot, kind in zip(bad_slots, bad_kinds, strict=True):
        value_list[slot], detail = _corrupt(value_list[slot], str(kind), mutate, rng)
        bad.append(BadMessage(topic, key_list[slot].decode(), str(kind), detail, str(ids[slot])))
    return MessageChunk(
        topics=[topic] * len(kinds),
        keys=key_list,
        values=value_list,
        kinds=kinds,
        late=late,
        bad=bad,
        late_ids=[str(i) for i in ids[late]],
        duplicate_ids=[str(i) for i in ids[take[kinds == DUPLICATE]]],
    )


# --- clicks ------------------------------------------------------------------------------
CLICK_ACTIONS = (
    ("view_item", 0.70),
    ("add_to_cart", 0.12),
    ("remove_from_cart", 0.03),
    ("add_to_wishlist", 0.04),
    ("begin_checkout", 0.06),
    ("purchase", 0.05),
)


@dataclass
class ClickOptions:
    topic: str = "clicks_topic"
    seed: int = 42
    event_start: dt.datetime = dt.datetime(2024, 1, 1)
    events_per_second: float = 100.0  # event-time density: how many events share one second of event time
    first_event_id: int = 1
    shop_scale: float = 1.0  # the shop whose users and product pages are clicked
    count: int | None = None  # messages in the run, if known: the last chunk is cut to fit, ratios stay exact
    ratios: Ratios = field(default_factory=lambda: Ratios(duplicate_rate=0.02, late_rate=0.05))


def _click_mutation(record: dict, kind: str, rng) -> str:
    if kind == MISSING_FIELD:
        name = ("timestamp", "event_id", "user_id", "url")[rng.integers(0, 4)]
        record.pop(name)
        return f"{name} missing"
    if rng.random() < 0.5:
        record["timestamp"] = int(
            dt.datetime.fromisoformat(record["timestamp"]).replace(tzinfo=dt.UTC).timestamp()
        )
        return "timestamp is a number"
    record["user_id"] = int(record["user_id"].removeprefix("usr"))
    return "user_id is a number"


def click_stream(options: ClickOptions) -> Iterator[MessageChunk]:
    """Chunks of click events over the shop's users and product pages, keyed by user_id (endless
    unless options.count is set)."""
    from shopflow_assets.datagen.shop import CATEGORIES, shop_universe

    options.ratios.validate()
    universe = shop_universe(options.event_start.date(), options.shop_scale, options.seed)
    user_cdf = np.cumsum(universe.user_weight) / universe.user_weight.sum()
    product_cdf = np.cumsum(universe.product_weight) / universe.product_weight.sum()
    action_cdf = np.cumsum([w for _, w in CLICK_ACTIONS]) / sum(w for _, w in CLICK_ACTIONS)
    action_names = pa.array([a for a, _ in CLICK_ACTIONS], pa.large_string())
    assert set(universe.product_category) <= {c for c, _, _ in CATEGORIES}
    urls = _join(
        "/product/",
        pa.array(universe.product_category, pa.large_string()),
        "/",
        csvio.prefixed_ids("prd", universe.product_numbers),
    )
    chunk_no = 0
    while True:
        rng = _rng(options.seed, 20, chunk_no)
        first = chunk_no * CHUNK_SIZE
        n = _chunk_length(first, options.count)
        if n == 0:
            return
        kinds, late, source = plan_kinds(n, options.ratios, rng)
        user = np.searchsorted(user_cdf, rng.random(n), side="right").clip(0, len(user_cdf) - 1)
        product = np.searchsorted(product_cdf, rng.random(n), side="right").clip(0, len(product_cdf) - 1)
        action = np.searchsorted(action_cdf, rng.random(n), side="right").clip(0, len(action_cdf) - 1)
        seconds = _event_seconds(
            options.event_start, options.events_per_second, first, n, late, options.ratios, rng
        )
        event_numbers = options.first_event_id + first + np.arange(n)
        event_ids = csvio.prefixed_ids("evt", event_numbers)
        user_ids = csvio.prefixed_ids("usr", user + 1)
        values = _join(
            '{"event_id":"',
            event_ids,
            '","user_id":"',
            user_ids,
            '","url":"',
            pc.take(urls, pa.array(product)),
            '","timestamp":"',
            csvio.iso_utc(seconds, "%Y-%m-%dT%H:%M:%S"),
            '","action":"',
            pc.take(action_names, pa.array(action)),
            '"}',
        )
        ids = event_ids.to_numpy(zero_copy_only=False)
        yield _assemble(options.topic, user_ids, values, kinds, late, source, ids, _click_mutation, rng)
        chunk_no += 1


# --- user actions ------------------------------------------------------------------------
ACTION_EVENTS = (("view", 0.55), ("click", 0.28), ("add_to_cart", 0.1), ("purchase", 0.05), ("search", 0.02))
PLATFORMS = (("web", 0.52), ("mobile", 0.48))
PRODUCT_ADJECTIVES = (
    "Wireless",
    "Bluetooth",
    "Mechanical",
    "Ergonomic",
    "Portable",
    "Smart",
    "Compact",
    "USB-C",
    "Gaming",
    "Noise-Cancelling",
)
PRODUCT_NOUNS = (
    "Mouse",
    "Headphones",
    "Keyboard",
    "Speaker",
    "Charger",
    "Monitor",
    "Webcam",
    "Microphone",
    "Router",
    "Watch",
    "Lamp",
    "Backpack",
)
MISSING_PLATFORM_SHARE = 0.02
MISSING_SKU_SHARE = 0.02
MISSING_PRODUCT_SHARE = 0.03  # searches and some views carry no product at all


@dataclass
class ActionOptions:
    topic: str = "user_actions"
    seed: int = 42
    event_start: dt.datetime = dt.datetime(2023, 10, 23, 12, 0, 0)
    events_per_second: float = 1000.0
    users: int = 100_000
    first_key: int = 1
    count: int | None = None  # as in ClickOptions
    ratios: Ratios = field(default_factory=Ratios)


def _action_mutation(record: dict, kind: str, rng) -> str:
    if kind == MISSING_FIELD:
        record.pop("timestamp")
        return "timestamp missing"
    if rng.random() < 0.5:
        text = record["timestamp"]
        record["timestamp"] = int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
        return "timestamp is a number"
    identifiers = record["user_identifiers"]
    record["user_identifiers"] = f"{identifiers.get('platform', '')}:{identifiers['id']}"
    return "user_identifiers is a string"


def product_catalogue() -> tuple[list[str], list[str]]:
    """(names, SKUs) of the products user actions refer to."""
    names = [f"{adjective} {noun}" for noun in PRODUCT_NOUNS for adjective in PRODUCT_ADJECTIVES]
    return names, [f"SKU-{1001 + i}" for i in range(len(names))]


def action_stream(options: ActionOptions) -> Iterator[MessageChunk]:
    """Chunks of nested user-action events, keyed by a unique message key `act<n>` (endless unless
    options.count is set)."""
    options.ratios.validate()
    names, skus = product_catalogue()
    name_array, sku_array = pa.array(names, pa.large_string()), pa.array(skus, pa.large_string())
    event_cdf = np.cumsum([w for _, w in ACTION_EVENTS]) / sum(w for _, w in ACTION_EVENTS)
    event_names = pa.array([e for e, _ in ACTION_EVENTS], pa.large_string())
    platforms = pa.array([p for p, _ in PLATFORMS], pa.large_string())
    user_weight = _rng(options.seed, 30).pareto(1.3, options.users) + 1
    user_cdf = np.cumsum(user_weight) / user_weight.sum()
    product_weight = _rng(options.seed, 31).pareto(1.5, len(names)) + 1
    product_cdf = np.cumsum(product_weight) / product_weight.sum()
    chunk_no = 0
    while True:
        rng = _rng(options.seed, 32, chunk_no)
        first = chunk_no * CHUNK_SIZE
        n = _chunk_length(first, options.count)
        if n == 0:
            return
        kinds, late, source = plan_kinds(n, options.ratios, rng)
        user = np.searchsorted(user_cdf, rng.random(n), side="right").clip(0, options.users - 1)
        product = np.searchsorted(product_cdf, rng.random(n), side="right").clip(0, len(names) - 1)
        event = np.searchsorted(event_cdf, rng.random(n), side="right").clip(0, len(event_cdf) - 1)
        platform = (rng.random(n) < PLATFORMS[1][1]).astype(np.int64)
        seconds = _event_seconds(
            options.event_start, options.events_per_second, first, n, late, options.ratios, rng
        )
        no_platform = rng.random(n) < MISSING_PLATFORM_SHARE
        no_product = rng.random(n) < MISSING_PRODUCT_SHARE
        no_sku = ~no_product & (rng.random(n) < MISSING_SKU_SHARE)
        user_ids = csvio.prefixed_ids("user_", user + 1)
        identifiers = pc.if_else(
            pa.array(no_platform),
            _join('"user_identifiers":{"id":"', user_ids, '"}'),
            _join(
                '"user_identifiers":{"platform":"',
                pc.take(platforms, pa.array(platform)),
                '","id":"',
                user_ids,
                '"}',
            ),
        )
        product_name = pc.take(name_array, pa.array(product))
        product_info = pc.if_else(
            pa.array(no_sku),
            _join(',"product_information":{"name":"', product_name, '"}'),
            _join(
                ',"product_information":{"name":"',
                product_name,
                '","SKU":"',
                pc.take(sku_array, pa.array(product)),
                '"}',
            ),
        )
        product_info = pc.if_else(pa.array(no_product), csvio.lit(""), product_info)
        values = _join(
            '{"timestamp":"',
            csvio.iso_utc(seconds),
            '","event_name":"',
            pc.take(event_names, pa.array(event)),
            '",',
            identifiers,
            product_info,
            "}",
        )
        keys = csvio.prefixed_ids("act", options.first_key + first + np.arange(n))
        chunk = _assemble(
            options.topic,
            keys,
            values,
            kinds,
            late,
            source,
            keys.to_numpy(zero_copy_only=False),
            _action_mutation,
            rng,
        )
        chunk.partial = (no_platform | no_product | no_sku) & (kinds == ORIGINAL)
        yield chunk
        chunk_no += 1


# --- Olist rows ------------------------------------------------------------------------
# The streamed tables in the order a producer walks them (dimensions first), with their topics and keys.
_OLIST_STREAMED = (CUSTOMERS, SELLERS, PRODUCTS, ORDERS, ORDER_ITEMS)
OLIST_TOPICS = {table.name: table.topic for table in _OLIST_STREAMED}
OLIST_KEYS = {table.name: table.keys for table in _OLIST_STREAMED}
# JSON types of the CSV columns, from the contract (the rest are strings).
_OLIST_NUMBERS = {c: kind for table in _OLIST_STREAMED for c, kind in table.json_numbers().items()}
OLIST_INTS = {c for c, kind in _OLIST_NUMBERS.items() if kind is int}
OLIST_FLOATS = {c for c, kind in _OLIST_NUMBERS.items() if kind is float}
# Status changes an order goes through, for upsert tests (`order_updates`).
NEXT_STATUS = {
    "created": "approved",
    "approved": "processing",
    "processing": "invoiced",
    "invoiced": "shipped",
    "shipped": "delivered",
    "delivered": "delivered",
    "canceled": "canceled",
    "unavailable": "canceled",
}


def olist_key(table: str, row: dict) -> str:
    """The message key of a row: its primary key (order_items: '<order_id>-<order_item_id>')."""
    return "-".join(str(row[column]) for column in OLIST_KEYS[table])


def olist_json_row(row: dict) -> dict:
    """A CSV row (all strings) as the JSON object sent to Kafka: empty -> null, numbers typed."""
    out = {}
    for column, text in row.items():
        if text == "" or text is None:
            out[column] = None
        elif column in OLIST_INTS or column in OLIST_FLOATS:
            out[column] = _json_number(text, integer=column in OLIST_INTS)
        else:
            out[column] = text
    return out


def _json_number(text: str, integer: bool):
    """The number a CSV field holds, or the text itself when it is not a finite number: the producer
    forwards any row; deciding that "abc" or "inf" is not a price is silver's job (it quarantines it)."""
    import math

    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    if integer:
        return int(value) if value.is_integer() and abs(value) < 2**63 else text
    return value


def read_olist_tables(
    source: Path,
    tables: tuple[str, ...] = tuple(OLIST_TOPICS),
    blank_rows: dict[str, int] | None = None,
    timestamp_formats: dict[str, str] | None = None,
) -> dict[str, list[dict]]:
    """Rows of the Olist CSVs in `source` (a generated folder or the real Kaggle download), as strings.
    Blank rows are skipped; their count per table goes into `blank_rows` when given. The folder is
    checked first: a missing file raises OlistSourceError naming the files expected and missing.
    Timestamps are sent as ISO: each column's day/month order is detected from all its values, or taken
    from `timestamp_formats` ({table or file name or '*': strptime format}); an ambiguous column raises
    TimestampFormatError."""
    from shopflow_assets.contracts.marketplace import BY_NAME, TS
    from shopflow_assets.datagen.olist_files import STREAMED_FILES, check_olist_folder, read_olist_csv
    from shopflow_assets.timestamp_formats import declared_format

    check_olist_folder(Path(source), [STREAMED_FILES[table] for table in tables])
    out = {}
    for table in tables:
        path = Path(source) / STREAMED_FILES[table]
        csv_file = read_olist_csv(path)
        columns = [name for name, kind in BY_NAME[table].types.items() if kind == TS]
        csv_file.normalize_timestamps(path, columns, declared_format(timestamp_formats, table, path.name))
        out[table] = csv_file.rows
        if blank_rows is not None:
            blank_rows[table] = csv_file.blank_rows
    return out


def olist_send_order(tables: dict[str, list[dict]]) -> list[tuple[str, int]]:
    """(table, row index) in the order a live marketplace would emit them: orders by purchase time; before
    each order its customer, then any seller and product seen for the first time, then the order and its
    items. Rows nothing refers to come at the end. Only tables present in `tables` are included."""
    orders = tables.get("orders") or []
    items_by_order: dict[str, list[int]] = {}
    for index, item in enumerate(tables.get("order_items") or []):
        items_by_order.setdefault(item["order_id"], []).append(index)
    customer_index = {row["customer_id"]: i for i, row in enumerate(tables.get("customers") or [])}
    seller_index = {row["seller_id"]: i for i, row in enumerate(tables.get("sellers") or [])}
    product_index = {row["product_id"]: i for i, row in enumerate(tables.get("products") or [])}
    sent: dict[str, set[int]] = {table: set() for table in OLIST_TOPICS}
    sequence: list[tuple[str, int]] = []

    def emit(table: str, index: int | None) -> None:
        if index is not None and table in tables and index not in sent[table]:
            sent[table].add(index)
            sequence.append((table, index))

    by_time = sorted(range(len(orders)), key=lambda i: (orders[i]["order_purchase_timestamp"], i))
    for order in by_time:
        row = orders[order]
        emit("customers", customer_index.get(row["customer_id"]))
        # pop: orders sharing an id (even a blank one) walk their items once, so this stays linear
        item_rows = items_by_order.pop(row["order_id"], [])
        for item in item_rows:
            emit("sellers", seller_index.get(tables["order_items"][item]["seller_id"]))
            emit("products", product_index.get(tables["order_items"][item]["product_id"]))
        emit("orders", order)
        for item in item_rows:
            emit("order_items", item)
    for table in OLIST_TOPICS:
        for index in range(len(tables.get(table) or [])):
            emit(table, index)
    return sequence


def order_updates(orders: list[dict], share: float, seed: int = 42) -> list[dict]:
    """Updated versions of round(share x orders) orders whose status can still move on (created ->
    approved -> processing -> invoiced -> shipped -> delivered; unavailable -> canceled), with the
    matching timestamp filled in. For upsert tests: the newest version must win downstream."""
    movable = [
        i
        for i, row in enumerate(orders)
        if NEXT_STATUS.get(row["order_status"], row["order_status"]) != row["order_status"]
    ]
    wanted = min(len(movable), _exact(len(orders), share))
    chosen = (
        np.sort(_rng(seed, 40).choice(np.array(movable, dtype=np.int64), size=wanted, replace=False))
        if wanted
        else []
    )
    updated = []
    for index in chosen:
        row = dict(orders[index])
        row["order_status"] = NEXT_STATUS[row["order_status"]]
        if row["order_status"] == "delivered" and not row["order_delivered_customer_date"]:
            row["order_delivered_customer_date"] = row["order_estimated_delivery_date"]
        if row["order_status"] == "shipped" and not row["order_delivered_carrier_date"]:
            row["order_delivered_carrier_date"] = row["order_approved_at"] or row["order_purchase_timestamp"]
        if row["order_status"] == "approved" and not row["order_approved_at"]:
            row["order_approved_at"] = row["order_purchase_timestamp"]
        updated.append(row)
    return updated


def _olist_mutation_for(table: str):
    key_column = OLIST_KEYS[table][0]

    def mutate(record: dict, kind: str, rng) -> str:
        if kind == MISSING_FIELD:
            record.pop(key_column)
            return f"{key_column} missing"
        record["_ingestion_timestamp"] = 1_700_000_000_000
        return "_ingestion_timestamp is a number"

    return mutate


@dataclass
class OlistOptions:
    source: Path
    seed: int = 42
    tables: tuple[str, ...] = tuple(OLIST_TOPICS)
    topic_suffix: str = ""
    update_rate: float = 0.0  # share of orders re-sent later with their status moved on
    # declared timestamp formats, {table or file name or '*': strptime format} (else detected per column)
    timestamp_formats: dict[str, str] = field(default_factory=dict)
    ratios: Ratios = field(default_factory=lambda: Ratios(duplicate_rate=0.02, late_rate=0.05))

    def topic(self, table: str) -> str:
        return OLIST_TOPICS[table] + (f"_{self.topic_suffix}" if self.topic_suffix else "")


def _utc_ms(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class OlistStream:
    """Chunks of Olist row messages in live order (see olist_send_order), then the order updates.

    `_ingestion_timestamp` is stamped from `clock()` when a chunk is built (the sender asks for chunks
    just in time); late messages carry a stamp late_min_s..late_max_s earlier. Duplicates (the same
    message re-sent) and malformed copies are extra messages a few positions after their row, so every
    row still arrives once intact.
    """

    def __init__(self, options: OlistOptions, chunk_size: int = 2_000):
        options.ratios.validate()
        self.options = options
        self.chunk_size = chunk_size
        self.blank_rows: dict[str, int] = {}
        data = read_olist_tables(options.source, options.tables, self.blank_rows, options.timestamp_formats)
        sequence = olist_send_order(data)
        self.updates = (
            order_updates(data["orders"], options.update_rate, options.seed) if "orders" in data else []
        )
        # each row serialized once, without its closing brace: the ingestion time is appended at send time
        self.bodies = [orjson.dumps(olist_json_row(data[table][index]))[:-1] for table, index in sequence]
        self.refs = [(table, olist_key(table, data[table][index])) for table, index in sequence]
        self.rows_per_table = {table: len(rows) for table, rows in data.items()}
        for row in self.updates:
            self.bodies.append(orjson.dumps(olist_json_row(row))[:-1])
            self.refs.append(("orders", olist_key("orders", row)))

    def __len__(self) -> int:
        return len(self.bodies)

    def chunks(self, clock: Callable[[], float]) -> Iterator[MessageChunk]:
        options, ratios = self.options, self.options.ratios
        mutations = {table: _olist_mutation_for(table) for table in OLIST_TOPICS}
        first_update = len(self.bodies) - len(self.updates)
        for chunk_no, start in enumerate(range(0, len(self.bodies), self.chunk_size)):
            rng = _rng(options.seed, 41, chunk_no)
            n = min(len(self.bodies), start + self.chunk_size) - start
            n_dup, n_bad = _exact(n, ratios.duplicate_rate), _exact(n, ratios.bad_rate)
            extra_kinds = np.concatenate([np.full(n_dup, DUPLICATE), np.full(n_bad, BAD)]).astype(np.int8)
            extra_source = rng.integers(0, n, n_dup + n_bad)
            insert_at = np.minimum(extra_source + 1 + rng.integers(0, 50, n_dup + n_bad), n)
            order = np.lexsort(
                (
                    np.concatenate([np.zeros(n), np.ones(n_dup + n_bad)]),
                    np.concatenate([np.arange(n), insert_at]),
                )
            )
            row_of = np.concatenate([np.arange(n), extra_source])[order]
            kind_of = np.concatenate([np.full(n, ORIGINAL, dtype=np.int8), extra_kinds])[order]
            late_rows = np.zeros(n, dtype=bool)
            late_rows[rng.choice(n, size=_exact(n, ratios.late_rate), replace=False)] = True
            delays = rng.uniform(ratios.late_min_s, ratios.late_max_s, n)
            bad_kinds = np.array(BAD_KINDS)[rng.integers(0, len(BAD_KINDS), len(row_of))]
            now = clock()
            current = _utc_ms(now).encode()
            chunk = MessageChunk([], [], [], kind_of, np.zeros(len(row_of), dtype=bool))
            for position, (row, kind) in enumerate(zip(row_of.tolist(), kind_of.tolist(), strict=True)):
                table, key = self.refs[start + row]
                stamp = _utc_ms(now - delays[row]).encode() if late_rows[row] else current
                value = self.bodies[start + row] + b',"_ingestion_timestamp":"' + stamp + b'"}'
                topic = options.topic(table)
                if kind == BAD:
                    value, detail = _corrupt(value, str(bad_kinds[position]), mutations[table], rng)
                    chunk.bad.append(BadMessage(topic, key, str(bad_kinds[position]), detail, key))
                elif kind == DUPLICATE:
                    chunk.duplicate_ids.append(f"{topic}:{key}")
                elif late_rows[row]:
                    chunk.late[position] = True
                    chunk.late_ids.append(f"{topic}:{key}")
                chunk.values.append(value)
                chunk.keys.append(key.encode())
                chunk.topics.append(topic)
            chunk.updates = (start + row_of >= first_update) & (kind_of == ORIGINAL)
            yield chunk
