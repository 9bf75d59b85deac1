"""Contract of the click stream: the `clicks_topic` JSON and the `fact_page_views` table.

One place for the topic, the fields a click must carry, the dead-letter reasons, and the shape of
`fact_page_views`, so the parser, the Delta MERGE, the warehouse mirror, the checks and the tests
read the same definitions.
"""

from __future__ import annotations

from functools import cache

from shopflow_assets.contracts.dataset import LazySchema
from shopflow_assets.contracts.dataset import lazy_pandera as pa  # built on first use: no pandera at load

# An event time beyond now + the shared max future skew is dead-lettered (contracts.streaming says why).
from shopflow_assets.contracts.streaming import DEFAULT_MAX_FUTURE_SKEW as DEFAULT_MAX_FUTURE_SKEW
from shopflow_assets.contracts.streaming import REASON_FUTURE_TIMESTAMP as REASON_FUTURE_TIMESTAMP

CLICKS_TOPIC = "clicks_topic"

# Fields of one click event as sent: {"event_id","user_id","url","timestamp","action"}.
CLICK_FIELDS = ("event_id", "user_id", "url", "timestamp", "action")
# A click without these cannot be placed in a window, deduplicated, attributed to a page or to a user
# (every seed field is required, as in the shop batch's cleaning rules); only `action` may be missing.
REQUIRED_CLICK_FIELDS = ("event_id", "user_id", "url", "timestamp")

# Dead-letter reasons besides the shared ones of contracts.streaming. `wrong_type:<field>` and
# `missing:<field>` name the field.
REASON_BAD_TIMESTAMP = "bad_timestamp"
# A click is about 150 bytes; anything over this is dead-lettered as `oversized_record` unparsed.
MAX_RECORD_BYTES = 16 * 1024
# A run that drops more than this share of its records as late is reported as failed.
DEFAULT_MAX_LATE_SHARE = 0.05

WINDOW_DURATION = "1 minute"
DEFAULT_WATERMARK = "2 minutes"  # how late an event may arrive and still update its window

# fact_page_views: one row per (window_start, url).
FACT_PAGE_VIEWS = "fact_page_views"
FACT_PAGE_VIEWS_KEYS = ("window_start", "url")
FACT_PAGE_VIEWS_COLUMNS = ("window_start", "window_end", "url", "views", "unique_users", "updated_at")
FACT_PAGE_VIEWS_SPARK_DDL = (
    "window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL, url STRING NOT NULL, "
    "views BIGINT NOT NULL, unique_users BIGINT NOT NULL, updated_at TIMESTAMP NOT NULL"
)
FACT_PAGE_VIEWS_DUCKDB_DDL = (
    "window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL, url VARCHAR NOT NULL, "
    "views BIGINT NOT NULL, unique_users BIGINT NOT NULL, updated_at TIMESTAMP NOT NULL, "
    "PRIMARY KEY (window_start, url)"
)

# Lake locations (bucket, key) resolved through resources.lake.
FACT_PAGE_VIEWS_LOCATION = ("lakehouse", "fact_page_views")
CLICKS_DEAD_LETTER_LOCATION = ("quarantine", f"dead_letter/{CLICKS_TOPIC}")
PAGE_VIEWS_CHECKPOINT = "clickstream/page_views"
CLICKS_DEAD_LETTER_CHECKPOINT = "clickstream/clicks_dead_letter"


def _one_minute_windows(df) -> bool:
    import pandas as pd

    return bool(((df["window_end"] - df["window_start"]) == pd.Timedelta(minutes=1)).all())


_FACT_PAGE_VIEWS_SCHEMA = LazySchema(
    {
        "window_start": pa.Column("datetime64[ns]", nullable=False),
        "window_end": pa.Column("datetime64[ns]", nullable=False),
        "url": pa.Column(str, nullable=False),
        "views": pa.Column("int64", pa.Check.ge(1), nullable=False),
        "unique_users": pa.Column("int64", pa.Check.ge(0), nullable=False),
    },
    checks=[
        pa.Check(lambda df: (df["unique_users"] <= df["views"]).all(), error="unique_users <= views"),
        pa.Check(_one_minute_windows, error="window_end = window_start + 1 minute"),
    ],
    unique=list(FACT_PAGE_VIEWS_KEYS),
    coerce=True,
    name=FACT_PAGE_VIEWS,
)


@cache
def _built(name: str):
    return {"FactPageViewsSchema": _FACT_PAGE_VIEWS_SCHEMA}[name]()


def __getattr__(name: str):
    """`FactPageViewsSchema`, the Pandera schema, built on first use (pandera costs seconds to import)."""
    if name == "FactPageViewsSchema":
        return _built(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
