"""The warehouse equals an independent SQL computation over the OLTP tables after a simulated hour of
changes, and the dashboard queries equal the same figures computed straight from the source.

What "a simulated hour" is here: the live-application simulator (`simulate_erp`, the code behind
`shopflow simulate erp`) applies 6 bursts of 40 changes (inserted orders with their transactions and
payments; updated prices, dates, paid flags, addresses, names) at a high rate, and the flow runs after
each burst, as the minute-by-minute ingestion would. The hour is shortened; the kinds and mix of changes
are the simulator's own.

The independent side: an audit trigger (created by this test, not by the flow) records every version of
every order and payment row in the source itself. Polling ingestion sees the state of the source at each
run, so a fact table must hold exactly, per row, the version that was current at each run; the dims must
equal the source tables joined as the contract says; dim_date's attributes come from PostgreSQL's own
date functions.
"""

from __future__ import annotations

import re

import pytest

from shopflow_assets.contracts.erp import FACTS
from shopflow_assets.datagen.erp import simulate_erp
from shopflow_assets.settings import PROJECT_ROOT, get_settings
from shopflow_assets_tests.support.erp import erp_stack, rows

pytestmark = pytest.mark.stack

BURSTS, CHANGES_PER_BURST = 6, 40

_AUDIT = """
CREATE SCHEMA audit;
CREATE TABLE audit.versions (tbl text NOT NULL, id integer NOT NULL, last_updated timestamptz NOT NULL, "row" jsonb);
CREATE FUNCTION audit.record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit.versions VALUES (TG_TABLE_NAME, (to_jsonb(NEW) ->> TG_ARGV[0])::int, NEW.last_updated, to_jsonb(NEW));
    RETURN NULL;
END $$;
"""


@pytest.fixture(scope="module")
def simulated():
    with erp_stack(get_settings()) as erp:
        with erp.source() as src:
            src.execute(_AUDIT)
            for _, source, source_id, _ in FACTS.values():
                src.execute(
                    f"INSERT INTO audit.versions SELECT '{source}', {source_id}, last_updated, to_jsonb(t) "
                    f"FROM {source} t"
                )
                src.execute(
                    f"CREATE TRIGGER audit_{source} AFTER INSERT OR UPDATE ON {source} "
                    f"FOR EACH ROW EXECUTE FUNCTION audit.record('{source_id}')"
                )
        run_times = []

        def run():
            with erp.source() as src:
                run_times.append(rows(src, "SELECT clock_timestamp()")[0][0])
            erp.run()

        run()
        for burst in range(BURSTS):
            done = simulate_erp(
                lambda: erp.owner.connect(database=erp.source_db),
                changes_per_minute=60 * 400,
                duration_seconds=CHANGES_PER_BURST / 400,
                seed=100 + burst,
            )
            assert sum(done.values()) == CHANGES_PER_BURST
            run()
        erp.run_times = run_times
        yield erp


# fact -> (source, the warehouse columns compared, the same from an audit version `v` (jsonb "row"))
_FACT_COLUMNS = {
    "fact_sales_order": (
        "sales_order",
        "sales_order_id, created_date, created_time, last_updated_date, last_updated_time, sales_staff_id, "
        "counterparty_id, units_sold, unit_price, currency_id, design_id, agreed_payment_date, "
        "agreed_delivery_date, agreed_delivery_location_id",
        "id, {created}, {updated}, (r->>'staff_id')::int, (r->>'counterparty_id')::int, (r->>'units_sold')::int, "
        "(r->>'unit_price')::numeric(10,2), (r->>'currency_id')::int, (r->>'design_id')::int, "
        "(r->>'agreed_payment_date')::date, (r->>'agreed_delivery_date')::date, "
        "(r->>'agreed_delivery_location_id')::int",
    ),
    "fact_purchase_order": (
        "purchase_order",
        "purchase_order_id, created_date, created_time, last_updated_date, last_updated_time, staff_id, "
        "counterparty_id, item_code, item_quantity, item_unit_price, currency_id, agreed_delivery_date, "
        "agreed_payment_date, agreed_delivery_location_id",
        "id, {created}, {updated}, (r->>'staff_id')::int, (r->>'counterparty_id')::int, r->>'item_code', "
        "(r->>'item_quantity')::int, (r->>'item_unit_price')::numeric(12,2), (r->>'currency_id')::int, "
        "(r->>'agreed_delivery_date')::date, (r->>'agreed_payment_date')::date, "
        "(r->>'agreed_delivery_location_id')::int",
    ),
    "fact_payment": (
        "payment",
        "payment_id, created_date, created_time, last_updated_date, last_updated_time, transaction_id, "
        "counterparty_id, payment_amount, currency_id, payment_type_id, paid, payment_date",
        "id, {created}, {updated}, (r->>'transaction_id')::int, (r->>'counterparty_id')::int, "
        "(r->>'payment_amount')::numeric(12,2), (r->>'currency_id')::int, (r->>'payment_type_id')::int, "
        "(r->>'paid')::boolean, (r->>'payment_date')::date",
    ),
}


def _split(column: str) -> str:
    utc = f"((r->>'{column}')::timestamptz AT TIME ZONE 'UTC')"
    return f"{utc}::date, {utc}::time"


@pytest.mark.parametrize("fact", list(FACTS))
def test_facts_hold_exactly_the_version_of_every_row_current_at_each_run(simulated, fact):
    source, warehouse_columns, audit_columns = _FACT_COLUMNS[fact]
    expected_sql = (
        "SELECT DISTINCT * FROM (SELECT DISTINCT ON (v.id, b) "
        + audit_columns.format(created=_split("created_at"), updated=_split("last_updated"))
        + ' FROM (SELECT id, last_updated, "row" AS r FROM audit.versions WHERE tbl = %s) v '
        "JOIN unnest(%s::timestamptz[]) b ON v.last_updated <= b ORDER BY v.id, b, v.last_updated DESC) x"
    )
    with simulated.source() as src:
        expected = sorted(rows(src, expected_sql, source, simulated.run_times))
        changed = rows(src, "SELECT count(*) FROM audit.versions WHERE tbl = %s", source)[0][0]
    with simulated.warehouse() as wh:
        actual = sorted(rows(wh, f"SELECT {warehouse_columns} FROM erp.{fact}"))
    assert len(expected) > rows_of_first_run(simulated, source)  # the simulation added versions
    assert changed >= len(expected)
    assert actual == expected


def rows_of_first_run(erp, source: str) -> int:
    with erp.source() as src:
        return rows(
            src,
            "SELECT count(*) FROM audit.versions WHERE tbl = %s AND last_updated <= %s",
            source,
            erp.run_times[0],
        )[0][0]


_DIMS = {
    "dim_location": (
        "SELECT * FROM erp.dim_location",
        "SELECT address_id, address_line_1, address_line_2, district, city, postal_code, country, phone FROM address",
    ),
    "dim_counterparty": (
        "SELECT * FROM erp.dim_counterparty",
        "SELECT c.counterparty_id, c.counterparty_legal_name, a.address_line_1, a.address_line_2, a.district, "
        "a.city, a.postal_code, a.country, a.phone FROM counterparty c LEFT JOIN address a "
        "ON a.address_id = c.legal_address_id",
    ),
    "dim_staff": (
        "SELECT * FROM erp.dim_staff",
        "SELECT s.staff_id, s.first_name, s.last_name, d.department_name, d.location, s.email_address "
        "FROM staff s LEFT JOIN department d USING (department_id)",
    ),
    "dim_currency": (
        "SELECT * FROM erp.dim_currency",
        "SELECT currency_id, currency_code, CASE currency_code WHEN 'GBP' THEN 'British Pound Sterling' "
        "WHEN 'USD' THEN 'United States Dollar' WHEN 'EUR' THEN 'Euro' END FROM currency",
    ),
    "dim_design": (
        "SELECT * FROM erp.dim_design",
        "SELECT design_id, design_name, file_location, file_name FROM design",
    ),
    "dim_payment_type": (
        "SELECT * FROM erp.dim_payment_type",
        "SELECT payment_type_id, payment_type_name FROM payment_type",
    ),
    "dim_transaction": (
        "SELECT * FROM erp.dim_transaction",
        "SELECT transaction_id, transaction_type, sales_order_id, purchase_order_id FROM transaction",
    ),
}


@pytest.mark.parametrize("dim", list(_DIMS))
def test_dimensions_equal_the_latest_source_rows(simulated, dim):
    warehouse_sql, source_sql = _DIMS[dim]
    with simulated.source() as src, simulated.warehouse() as wh:
        assert sorted(rows(wh, warehouse_sql)) == sorted(rows(src, source_sql))


def test_dim_date_has_every_date_a_fact_refers_to_with_postgres_own_calendar_attributes(simulated):
    # Only the versions current at some run: a version overwritten between two runs never reached the flow.
    dates_sql = """
        WITH seen AS (
            SELECT DISTINCT ON (v.tbl, v.id, b) v."row" AS r FROM audit.versions v
            JOIN unnest(%s::timestamptz[]) b ON v.last_updated <= b ORDER BY v.tbl, v.id, b, v.last_updated DESC
        )
        SELECT DISTINCT d FROM (
            SELECT ((r->>'last_updated')::timestamptz AT TIME ZONE 'UTC')::date AS d FROM seen
            UNION SELECT ((r->>'created_at')::timestamptz AT TIME ZONE 'UTC')::date FROM seen
            UNION SELECT (r->>'agreed_delivery_date')::date FROM seen WHERE r ? 'agreed_delivery_date'
            UNION SELECT (r->>'agreed_payment_date')::date FROM seen WHERE r ? 'agreed_payment_date'
            UNION SELECT (r->>'payment_date')::date FROM seen WHERE r ? 'payment_date'
        ) x
    """
    calendar_sql = (
        "SELECT d, extract(year FROM d)::int, extract(month FROM d)::int, extract(day FROM d)::int, "
        "extract(isodow FROM d)::int, to_char(d, 'FMDay'), to_char(d, 'FMMonth'), extract(quarter FROM d)::int "
        "FROM unnest(%s::date[]) d"
    )
    with simulated.source() as src:
        dates = [r[0] for r in rows(src, dates_sql, simulated.run_times)]
        expected = sorted(rows(src, calendar_sql, dates))
    with simulated.warehouse() as wh:
        assert sorted(rows(wh, "SELECT * FROM erp.dim_date")) == expected


def dashboard_queries() -> dict[str, str]:
    text = (PROJECT_ROOT / "sql" / "erp_dashboard_queries.sql").read_text()
    blocks = re.split(r"^-- name: (\w+)\n", text, flags=re.M)[1:]
    return dict(zip(blocks[::2], blocks[1::2], strict=True))


# The same figures straight from the OLTP source (current rows, no history to collapse).
_INDEPENDENT = {
    "sales_by_month_and_currency": """
        SELECT extract(year FROM s.created_at AT TIME ZONE 'UTC')::int, extract(month FROM s.created_at AT TIME ZONE 'UTC')::int,
               to_char(s.created_at AT TIME ZONE 'UTC', 'FMMonth'), c.currency_code, count(*), sum(s.units_sold),
               sum(s.units_sold * s.unit_price)
        FROM sales_order s JOIN currency c USING (currency_id) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 4""",
    "top_counterparties": """
        SELECT * FROM (
            SELECT c.currency_code, rank() OVER (PARTITION BY c.currency_code ORDER BY sum(s.units_sold * s.unit_price) DESC, s.counterparty_id) AS position,
                   s.counterparty_id, cp.counterparty_legal_name, a.city, a.country, count(*), sum(s.units_sold * s.unit_price)
            FROM sales_order s JOIN currency c USING (currency_id) JOIN counterparty cp USING (counterparty_id)
            LEFT JOIN address a ON a.address_id = cp.legal_address_id
            GROUP BY c.currency_code, s.counterparty_id, cp.counterparty_legal_name, a.city, a.country) t
        WHERE position <= 5 ORDER BY 1, 2""",
    "purchase_vs_sales_by_location": """
        SELECT a.country, a.city, a.address_id, c.currency_code,
               coalesce(sum(x.sales), 0), coalesce(sum(x.purchases), 0)
        FROM (SELECT agreed_delivery_location_id AS loc, currency_id, units_sold * unit_price AS sales, 0::numeric AS purchases FROM sales_order
              UNION ALL
              SELECT agreed_delivery_location_id, currency_id, 0, item_quantity * item_unit_price FROM purchase_order) x
        JOIN address a ON a.address_id = x.loc JOIN currency c USING (currency_id)
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""",
}


@pytest.mark.parametrize("query", list(_INDEPENDENT))
def test_dashboard_query_equals_the_figure_computed_from_the_source(simulated, query):
    with simulated.source() as src, simulated.warehouse() as wh:
        actual = rows(wh, dashboard_queries()[query])
        expected = rows(src, _INDEPENDENT[query])
    assert actual and actual == expected


def test_the_dashboard_file_holds_the_three_queries():
    assert set(dashboard_queries()) == set(_INDEPENDENT)
