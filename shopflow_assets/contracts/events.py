"""Contract of the user action events: the `user_actions` JSON and its flattened Parquet output.

Input, nested JSON:
    {"timestamp", "event_name", "user_identifiers": {"platform", "id"}, "product_information": {"name", "SKU"}}
Output columns: event_datetime, event_date, event_name, user_id, platform, product_name, SKU.

Rules (docs/requirements.md): a missing field becomes null; a record goes to the dead-letter destination
when it is oversized, not JSON, not a JSON object, lacks a timestamp, has a timestamp that is not an ISO-8601
string or is later than now + the streams' max future skew (`future_timestamp`), or has a field of the
wrong type (a number where a string is expected, a string where an object is expected...). Every dead letter keeps its reason, topic, partition, offset and raw value.
"""

from __future__ import annotations

from functools import cache

from shopflow_assets.contracts.dataset import LazySchema
from shopflow_assets.contracts.dataset import lazy_pandera as pa  # built on first use: no pandera at load
from shopflow_assets.contracts.streaming import (
    REASON_FUTURE_TIMESTAMP,
    REASON_NOT_JSON,
    REASON_NOT_OBJECT,
    REASON_OVERSIZED,
)

USER_ACTIONS_TOPIC = "user_actions"

# (output column, JSON path in the input, expected JSON type). The timestamp is handled apart: it is required.
TIMESTAMP_PATH = "$.timestamp"
STRING_FIELDS = (
    ("event_name", "$.event_name"),
    ("user_id", "$.user_identifiers.id"),
    ("platform", "$.user_identifiers.platform"),
    ("product_name", "$.product_information.name"),
    ("SKU", "$.product_information.SKU"),
)
OBJECT_FIELDS = (("user_identifiers", "$.user_identifiers"), ("product_information", "$.product_information"))

OUTPUT_COLUMNS = ("event_datetime", "event_date", "event_name", "user_id", "platform", "product_name", "SKU")
OUTPUT_SPARK_DDL = (
    "event_datetime TIMESTAMP NOT NULL, event_date DATE NOT NULL, event_name STRING, user_id STRING, "
    "platform STRING, product_name STRING, SKU STRING"
)
# Written next to the data columns: which micro-batch wrote the row (see docs/streaming.md, exactly-once).
BATCH_COLUMN = "batch_id"
PARTITION_COLUMNS = ("event_date", BATCH_COLUMN)

# Dead-letter reasons besides the shared ones of contracts.streaming. `wrong_type:<field>` names the field.
REASON_MISSING_TIMESTAMP = "missing_timestamp"
REASON_BAD_TIMESTAMP = "bad_timestamp"
# A user action is under a kilobyte; anything over this is dead-lettered as `oversized_record` unparsed.
MAX_RECORD_BYTES = 64 * 1024
DEAD_LETTER_REASONS = (
    REASON_OVERSIZED,
    REASON_NOT_JSON,
    REASON_NOT_OBJECT,
    REASON_MISSING_TIMESTAMP,
    REASON_BAD_TIMESTAMP,
    REASON_FUTURE_TIMESTAMP,
    *[f"wrong_type:{name}" for name, _ in (*OBJECT_FIELDS, *STRING_FIELDS)],
)

# Lake locations (bucket, key) resolved through resources.lake.
USER_ACTION_EVENTS = "user_action_events"
USER_ACTION_EVENTS_LOCATION = ("events", "user_actions")
USER_ACTIONS_DEAD_LETTER_LOCATION = ("quarantine", f"dead_letter/{USER_ACTIONS_TOPIC}")
USER_ACTIONS_CHECKPOINT = "events/user_actions"
# A batch of 1M events takes ~8 s here: the replay after a crash stays short, and the per-batch cost
# (planning, commit, the dead-letter write) is spread thinly (500k batches: ~15% fewer events/s).
USER_ACTIONS_MAX_OFFSETS_PER_TRIGGER = 1_000_000

_USER_ACTION_EVENTS_SCHEMA = LazySchema(
    {
        "event_datetime": pa.Column("datetime64[ns]", nullable=False),
        "event_date": pa.Column(object, nullable=False),
        "event_name": pa.Column(str, nullable=True),
        "user_id": pa.Column(str, nullable=True),
        "platform": pa.Column(str, nullable=True),
        "product_name": pa.Column(str, nullable=True),
        "SKU": pa.Column(str, nullable=True),
    },
    checks=[
        pa.Check(
            lambda df: (df["event_datetime"].dt.date == df["event_date"]).all(),
            error="event_date is the UTC date of event_datetime",
        )
    ],
    name=USER_ACTION_EVENTS,
)


@cache
def _built(name: str):
    return {"UserActionEventsSchema": _USER_ACTION_EVENTS_SCHEMA}[name]()


def __getattr__(name: str):
    """`UserActionEventsSchema`, the Pandera schema, built on first use (pandera costs seconds to import)."""
    if name == "UserActionEventsSchema":
        return _built(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
