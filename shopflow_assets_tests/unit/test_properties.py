"""Property tests (hypothesis): whatever a row holds, it ends loaded or quarantined with a reason, and a
batch never crashes on row content. Pure parsers run many examples; the Spark parsers take one whole
generated batch per example, so a few examples cover hundreds of hostile rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math

import orjson
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from shopflow_assets.datagen.events import OLIST_FLOATS, OLIST_INTS, olist_json_row
from shopflow_assets.datagen.olist import COLUMNS, ORDER_ITEMS, ORDERS
from shopflow_assets.datagen.olist_files import read_olist_csv
from shopflow_assets.identifiers import PREFIX_PATTERN, UnsafeNameError, safe_prefix

pytestmark = pytest.mark.unit

FAST = settings(max_examples=150, deadline=None)
# Spark examples are whole batches; no shrinking (each step would be a Spark job): the failing batch is printed
SPARK = settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)

# text that hurts parsers: numbers, non-finite numbers, dates in odd shapes, quotes, separators, controls
nasty_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "NaN", "Infinity", "-inf", "1e309", "99999999999.00", "-0", "0x1F", "1,5"]),
    st.sampled_from(["9999-01-01T00:00:00", "1/2/2018 10:56", "2017-10-02 10:56", "2017-13-45", "\x00"]),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _row(columns):
    return st.fixed_dictionaries({column: nasty_text for column in columns})


# --- pure parsers ---------------------------------------------------------------------------------
@FAST
@given(row=st.one_of(_row(COLUMNS[ORDERS]), _row(COLUMNS[ORDER_ITEMS])))
def test_any_olist_row_becomes_a_json_message(row):
    message = olist_json_row(row)
    assert set(message) == set(row)
    orjson.dumps(message)  # always serializable: the producer never crashes on a row
    for column, value in message.items():
        if row[column] == "":
            assert value is None
        elif column in OLIST_INTS | OLIST_FLOATS and not isinstance(value, str):
            assert math.isfinite(value) and value == float(row[column])
        else:
            assert value == row[column]  # kept as sent; silver decides and quarantines with a reason


@FAST
@given(
    rows=st.lists(
        st.lists(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), min_size=4, max_size=4
        ),
        max_size=25,
    ),
    blanks=st.integers(min_value=0, max_value=40),
    crlf=st.booleans(),
)
def test_read_olist_csv_accounts_for_every_row(tmp_path_factory, rows, blanks, crlf):
    path = tmp_path_factory.mktemp("csv") / "olist_sellers_dataset.csv"
    buffer = io.StringIO()
    newline = "\r\n" if crlf else "\n"
    # every field quoted: a bare CR inside a value is only valid CSV when quoted
    writer = csv.writer(buffer, lineterminator=newline, quoting=csv.QUOTE_ALL)
    writer.writerow(COLUMNS["olist_sellers_dataset.csv"])
    writer.writerows(rows)
    buffer.write((",,," + newline) * blanks)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode())
    read = read_olist_csv(path)
    all_blank = [r for r in rows if all(not value.strip() for value in r)]
    assert read.blank_rows == blanks + len(all_blank)
    assert read.malformed_lines == []
    assert len(read.rows) + read.blank_rows == len(rows) + blanks
    assert [list(r.values()) for r in read.rows] == [r for r in rows if r not in all_blank]


@FAST
@given(value=st.text(max_size=80))
def test_a_prefix_is_accepted_exactly_when_it_matches_the_pattern(value):
    try:
        accepted = safe_prefix(value, "key_prefix")
    except UnsafeNameError:
        assert not PREFIX_PATTERN.fullmatch(value.strip("/"))
    else:
        assert accepted == "" or PREFIX_PATTERN.fullmatch(accepted)
        assert not set(accepted) & set("'\";\\ \n\t.")


# --- Spark parsers: one generated batch per example -------------------------------------------------
@pytest.fixture(scope="module")
def spark():
    from shopflow_assets.resources.spark import get_spark_session

    return get_spark_session()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
click_like = st.fixed_dictionaries(
    {},
    optional={
        "event_id": json_values,
        "user_id": json_values,
        "url": json_values,
        "timestamp": st.one_of(nasty_text, json_values),
        "action": json_values,
    },
).map(json.dumps)
raw_values = st.one_of(click_like, nasty_text, json_values.map(json.dumps))


def _records(spark, values):
    rows = [(v, "t", 0, i, dt.datetime(2024, 1, 1)) for i, v in enumerate(values)]
    return spark.createDataFrame(
        rows, "value string, topic string, partition int, offset long, kafka_timestamp timestamp"
    )


ANCIENT_AND_FAR_CLICKS = [
    '{"event_id": "e", "user_id": "u", "url": "/", "timestamp": "-3582"}',
    '{"event_id": "e", "user_id": "u", "url": "/", "timestamp": "0001-01-01T00:00:00"}',
    '{"event_id": "e", "user_id": "u", "url": "/", "timestamp": "+10000-01-01T00:00:00Z"}',
]


@SPARK
@given(values=st.lists(raw_values, min_size=1, max_size=60))
@example(values=ANCIENT_AND_FAR_CLICKS)
def test_every_click_is_valid_or_dead_lettered_with_a_reason(spark, values):
    from shopflow_assets.domains.clickstream.transforms import parse_clicks

    rows = parse_clicks(_records(spark, values)).collect()
    assert len(rows) == len(values)
    for row in rows:
        if row.reason is None:
            assert row.event_id is not None and row.user_id is not None and row.url is not None
            assert row.event_time is not None
        else:
            assert row.reason.strip()


@SPARK
@given(
    values=st.lists(
        st.one_of(raw_values, st.just('{"timestamp": "2024-01-01T00:00:00Z", "user_identifiers": 5}')),
        min_size=1,
        max_size=60,
    )
)
@example(values=[v.replace('"url": "/"', '"user_identifiers": {"id": "u"}') for v in ANCIENT_AND_FAR_CLICKS])
def test_every_user_action_is_valid_or_dead_lettered_with_a_reason(spark, values):
    from shopflow_assets.domains.events.transforms import parse_user_actions

    # Every column is collected: a timestamp Python cannot hold must not reach the output.
    rows = parse_user_actions(_records(spark, values)).collect()
    assert len(rows) == len(values)
    assert all(row.reason is None or row.reason.strip() for row in rows)


@SPARK
@given(
    rows=st.lists(
        _row(
            (
                "order_id",
                "customer_id",
                "order_status",
                "order_purchase_timestamp",
                "order_approved_at",
                "order_estimated_delivery_date",
            )
        ),
        min_size=1,
        max_size=40,
    )
)
def test_every_olist_order_is_typed_or_quarantined_with_a_reason(spark, rows):
    from shopflow_assets.contracts.marketplace import INGESTION_TS
    from shopflow_assets.contracts.marketplace import ORDERS as ORDERS_CONTRACT
    from shopflow_assets.domains.marketplace.transforms import REASON, typed_with_reasons

    columns = [*ORDERS_CONTRACT.columns, INGESTION_TS]
    data = [
        tuple(row.get(c, "2024-01-01T00:00:00Z" if c == INGESTION_TS else None) for c in columns)
        for row in rows
    ]
    bronze = spark.createDataFrame(data, ", ".join(f"`{c}` string" for c in columns))
    # only strings and the reason are collected: an out-of-range time cannot become a Python datetime
    typed = typed_with_reasons(bronze, ORDERS_CONTRACT).select("order_id", REASON).collect()
    assert len(typed) == len(rows)
    for row in typed:
        assert row[REASON] is None or row[REASON].strip()
        if row[REASON] is None:
            assert row["order_id"] is not None


@SPARK
@given(rows=st.lists(st.lists(nasty_text, min_size=3, max_size=3), min_size=1, max_size=40))
def test_every_shop_user_row_is_loaded_or_quarantined(spark, tmp_path_factory, rows):
    from shopflow_assets.domains.shop import transforms

    path = tmp_path_factory.mktemp("shop") / "Users.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["user_id", "signup_date", "country"])
    writer.writerows([[field.replace("\x00", "") for field in row] for row in rows])
    path.write_text(buffer.getvalue())
    raw_file = transforms.read_raw_csv(spark, str(path), "users")
    raw = raw_file.frame
    clean, quarantine = transforms.split_rows(transforms.clean_users(raw, "Users.csv").toPandas(), "users")
    read_back = raw.count()
    assert raw_file.rows == read_back  # the numbering scan's count is the file's rows
    assert len(clean) + len(quarantine) == read_back
    assert quarantine["rule"].notna().all() and (quarantine["rule"].str.len() > 0).all()
