"""Dashboards as code: the YAML in dashboard/ rendered into Superset's import bundle (no Superset needed)."""

from __future__ import annotations

import importlib.util

import duckdb
import pytest
import yaml

from shopflow_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

DASHBOARD_DIR = PROJECT_ROOT / "dashboard"
ENV = {
    "SHOPFLOW_DASHBOARD_SNAPSHOT": "/data/snapshot.duckdb",
    "POSTGRES_READER_USER": "shop_reader",
    "POSTGRES_HOST": "db",
    "POSTGRES_PORT": "5432",
}


@pytest.fixture(scope="module")
def provision():
    spec = importlib.util.spec_from_file_location("dashboard_provision", DASHBOARD_DIR / "provision.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bundle(provision, env=ENV, root=DASHBOARD_DIR):
    databases, boards = provision.load_specs(root)
    files, skipped = provision.render_bundle(databases, boards, env)
    return {path: yaml.safe_load(body) for path, body in files.items()}, skipped, boards


def test_repository_dashboards_render_with_every_chart_placed(provision):
    files, skipped, boards = _bundle(provision)
    assert skipped == []
    dashboards = {body["slug"]: body for path, body in files.items() if path.startswith("dashboards/")}
    assert {"page-views", "shop-revenue", "olist-gold"} <= set(dashboards)
    charts = {body["uuid"]: body for path, body in files.items() if path.startswith("charts/")}
    datasets = {body["uuid"]: body for path, body in files.items() if path.startswith("datasets/")}
    database = files["databases/shopflow-warehouse.yaml"]
    assert database["sqlalchemy_uri"] == "duckdb:////data/snapshot.duckdb"
    assert database["extra"]["engine_params"]["connect_args"]["read_only"] is True
    erp = files["databases/erp-warehouse.yaml"]
    assert all(d["database_uuid"] in (database["uuid"], erp["uuid"]) for d in datasets.values())

    for board in boards:
        body = dashboards[board["slug"]]
        nodes = [n for n in body["position"].values() if isinstance(n, dict)]
        placed = [node["meta"]["uuid"] for node in nodes if node.get("type") == "CHART"]
        assert len(placed) == len(board["charts"])
        assert all(charts[uuid]["dataset_uuid"] in datasets for uuid in placed)
        for row in (n for n in nodes if n.get("type") == "ROW"):
            assert sum(body["position"][c]["meta"]["width"] for c in row["children"]) <= 12
    # The Olist marts the dashboard promises are all read.
    tables = {d["table_name"] for d in datasets.values()}
    assert {"fact_page_views", "fact_orders", "gold_daily_sales", "gold_seller_performance"} <= tables
    assert {"gold_delivery_performance", "gold_customer_rfm"} <= tables


def test_sql_lab_opens_the_warehouse_without_host_access_and_locked(provision, tmp_path):
    # SQL Lab runs any SELECT on this connection: read-only alone still reads and writes host files.
    files, _, _ = _bundle(provision)
    connect_args = files["databases/shopflow-warehouse.yaml"]["extra"]["engine_params"]["connect_args"]
    assert connect_args == {
        "read_only": True,
        "config": {"enable_external_access": False, "lock_configuration": True},
    }
    # What duckdb-engine does with them (duckdb.connect(path, read_only=..., config=...)), on a warehouse.
    warehouse, secret = tmp_path / "snapshot.duckdb", tmp_path / "generated.env"
    secret.write_text("SUPERSET_SECRET_KEY=not-for-sql-lab\n")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE fact_orders AS SELECT 1 AS order_id")
    with duckdb.connect(str(warehouse), **connect_args) as con:
        assert con.execute("SELECT count(*) FROM fact_orders").fetchone() == (1,)
        for sql in (
            f"SELECT content FROM read_text('{secret}')",
            "SELECT content FROM read_text('/proc/self/environ')",
            f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'",
        ):
            with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
                con.execute(sql)
        with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
            con.execute("SET enable_external_access = true")
    assert not (tmp_path / "written.csv").exists()


def test_page_views_refresh_at_most_every_30_seconds(provision):
    files, _, _ = _bundle(provision)
    (page_views,) = [b for p, b in files.items() if p.startswith("dashboards/") and b["slug"] == "page-views"]
    assert 0 < page_views["metadata"]["refresh_frequency"] <= 30


def test_uuids_are_stable_so_a_reimport_updates_in_place(provision):
    first, _, _ = _bundle(provision)
    second, _, _ = _bundle(provision)
    assert {p: b.get("uuid") for p, b in first.items()} == {p: b.get("uuid") for p, b in second.items()}


def test_database_with_unset_variable_is_skipped_with_its_dashboards(provision, tmp_path):
    (tmp_path / "databases").mkdir()
    (tmp_path / "dashboards" / "erp").mkdir(parents=True)
    (tmp_path / "databases" / "erp.yaml").write_text(
        "name: ERP warehouse\nuri: postgresql://${POSTGRES_USER}@${POSTGRES_HOST}:${POSTGRES_PORT}/warehouse\n"
        "password_env: POSTGRES_PASSWORD\n"
    )
    (tmp_path / "dashboards" / "erp" / "sales.yaml").write_text(
        "title: ERP sales\ndatabase: ERP warehouse\ndatasets: {s: {table: fact_sales}}\n"
        "charts: [{name: Sales, dataset: s, type: big_number, metrics: {sales: SUM(amount)}}]\n"
    )
    files, skipped, _ = _bundle(provision, env={"POSTGRES_USER": "shop"}, root=tmp_path)
    assert not any(p.startswith(("databases/", "dashboards/", "charts/")) for p in files)
    assert any("ERP warehouse" in line and "variable" in line for line in skipped)
    assert any("ERP sales" in line for line in skipped)

    env = {"POSTGRES_USER": "shop", "POSTGRES_HOST": "db", "POSTGRES_PORT": "5432"}
    files, skipped, _ = _bundle(provision, env=env, root=tmp_path)
    assert skipped == []
    assert (
        files["databases/erp-warehouse.yaml"]["sqlalchemy_uri"]
        == "postgresql://shop:XXXXXXXXXX@db:5432/warehouse"
    )
    databases, _ = provision.load_specs(tmp_path)
    # The password goes to Superset's import, keyed by the database's bundle file, never into the files.
    assert provision.database_passwords(databases, env | {"POSTGRES_PASSWORD": "pw"}) == {
        "databases/erp-warehouse.yaml": "pw"
    }
    assert provision.database_passwords(databases, env) == {}


@pytest.mark.parametrize(
    ("chart", "message"),
    [
        ("{name: A, dataset: s, type: donut, metrics: {n: COUNT(*)}}", "type 'donut'"),
        ("{name: A, dataset: nope, type: big_number, metrics: {n: COUNT(*)}}", "dataset 'nope'"),
        ("{name: A, dataset: s, type: line, metrics: {n: COUNT(*)}}", "missing 'x'"),
        # A comma inside a flow mapping splits the expression: caught, not imported as a broken chart.
        ("{name: A, dataset: s, type: big_number, metrics: {n: ROUND(SUM(x), 2)}}", "metrics must map"),
    ],
)
def test_bad_chart_is_refused_naming_file_and_chart(provision, tmp_path, chart, message):
    (tmp_path / "databases").mkdir()
    (tmp_path / "dashboards" / "shop").mkdir(parents=True)
    (tmp_path / "databases" / "w.yaml").write_text("name: W\nuri: duckdb:///x.duckdb\n")
    (tmp_path / "dashboards" / "shop" / "bad.yaml").write_text(
        f"title: Bad\ndatabase: W\ndatasets: {{s: {{table: t}}}}\ncharts: [{chart}]\n"
    )
    with pytest.raises(provision.SpecError, match=message) as error:
        _bundle(provision, env={}, root=tmp_path)
    assert "dashboards/shop/bad.yaml: chart 1 (A)" in str(error.value)


def test_a_dataset_can_be_a_query(provision, tmp_path):
    (tmp_path / "databases").mkdir()
    (tmp_path / "dashboards" / "erp").mkdir(parents=True)
    (tmp_path / "databases" / "w.yaml").write_text("name: W\nuri: duckdb:///x.duckdb\n")
    (tmp_path / "dashboards" / "erp" / "latest.yaml").write_text(
        "title: Latest orders\ndatabase: W\n"
        "datasets: {latest_orders: {sql: 'SELECT DISTINCT ON (id) * FROM fact ORDER BY id, updated DESC'}}\n"
        "charts: [{name: Orders, dataset: latest_orders, type: big_number, metrics: {n: COUNT(*)}}]\n"
    )
    files, _, _ = _bundle(provision, env={}, root=tmp_path)
    dataset = files["datasets/w/latest_orders.yaml"]
    assert dataset["sql"].startswith("SELECT DISTINCT ON (id)") and dataset["table_name"] == "latest_orders"
    assert dataset["schema"] is None


def test_erp_reports_read_the_warehouse_through_the_read_only_role_with_the_flows_queries(provision):
    files, skipped, _ = _bundle(provision)
    assert skipped == []
    erp = files["databases/erp-warehouse.yaml"]
    # The read-only login, default database; the URI holds Superset's password mask, not the password
    # (that goes to the import by name, and Superset keeps it only under a masked URI).
    assert erp["sqlalchemy_uri"] == "postgresql://shop_reader:XXXXXXXXXX@db:5432/warehouse"
    databases, _ = provision.load_specs(DASHBOARD_DIR)
    assert provision.database_passwords(databases, ENV | {"POSTGRES_READER_PASSWORD": "s3cret"}) == {
        "databases/erp-warehouse.yaml": "s3cret"
    }
    assert "s3cret" not in str(files)
    (board,) = [b for p, b in files.items() if p.startswith("dashboards/") and b["slug"] == "erp-reports"]
    assert board["dashboard_title"] == "ERP reports"
    erp_datasets = {b["table_name"]: b for b in files.values() if b.get("database_uuid") == erp["uuid"]}
    assert set(erp_datasets) == {
        "sales_by_month_and_currency",
        "top_counterparties",
        "purchase_vs_sales_by_location",
    }
    queries = (PROJECT_ROOT / "sql" / "erp_dashboard_queries.sql").read_text()
    for name, dataset in erp_datasets.items():
        assert dataset["schema"] is None and not dataset["sql"].endswith(";")
        assert "--" not in dataset["sql"]
        # Word for word the flow's definition (comments and the final `;` aside).
        assert dataset["sql"].splitlines()[0] in queries and dataset["sql"].splitlines()[-1] in queries
        assert (
            provision.named_query(PROJECT_ROOT / "sql" / "erp_dashboard_queries.sql", name) == dataset["sql"]
        )
    assert "DISTINCT ON (sales_order_id)" in erp_datasets["top_counterparties"]["sql"]


def test_a_database_name_can_default_and_be_overridden(provision):
    template = "postgresql://${U}@h:1/${DB:-warehouse}"
    assert provision.expand(template, {"U": "r"}) == "postgresql://r@h:1/warehouse"
    assert provision.expand(template, {"U": "r", "DB": "warehouse_t1"}) == "postgresql://r@h:1/warehouse_t1"
    assert provision.expand(template, {"DB": "x"}) is None  # a variable without default stays required


def test_unknown_named_query_is_refused_naming_the_file(provision, tmp_path):
    queries = tmp_path / "q.sql"
    queries.write_text("-- name: a\n-- what a is\nSELECT 1;\n\n-- name: b\nSELECT 2\n;\n")
    assert provision.named_query(queries, "a") == "SELECT 1"
    assert provision.named_query(queries, "b") == "SELECT 2"
    with pytest.raises(provision.SpecError, match="no query '-- name: c' \\(there are: a, b\\)"):
        provision.named_query(queries, "c")
