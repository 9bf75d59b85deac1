"""Provision Superset from the repository: databases/*.yaml and dashboards/<domain>/*.yaml.

Each dashboard file names its database, its datasets (warehouse tables) and its charts in a compact form
(see docs/dashboard.md); `render_bundle` turns them into Superset's own import bundle (the YAML files an
export would contain, with stable UUIDs derived from the names, so a re-import updates in place) and
`main` imports it with Superset's import command, then reads each dataset's columns from the database.
Run by `shopflow dashboard` with dashboard/.venv's Python; `render_bundle` needs only PyYAML.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
NAMESPACE = uuid.UUID("5f0c1e6a-7a43-4c1e-9d0b-5d1f7a3c2b10")
GRID_WIDTH = 12

VIZ_TYPES = {
    "line": "echarts_timeseries_line",
    "bar": "echarts_timeseries_bar",
    "big_number": "big_number_total",
    "table": "table",
    "pie": "pie",
}


class SpecError(ValueError):
    """A dashboard or database file that cannot be provisioned; the message names file and field."""


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand(template: str, environ: dict[str, str]) -> str | None:
    """`${VAR}` (or `${VAR:-default}`) from the environment; None when a variable without default is unset
    or empty."""
    if any(not environ.get(m.group(1)) and m.group(2) is None for m in VARIABLE.finditer(template)):
        return None
    return VARIABLE.sub(lambda m: environ.get(m.group(1)) or m.group(2), template)


def load_specs(root: Path = HERE) -> tuple[list[dict], list[dict]]:
    """(databases, dashboards), each spec carrying the file it came from under `_file`."""

    def read(path: Path) -> dict:
        spec = yaml.safe_load(path.read_text()) or {}
        if not isinstance(spec, dict):
            raise SpecError(f"{path}: expected a mapping at the top")
        return spec | {"_file": str(path.relative_to(root))}

    databases = [read(p) for p in sorted((root / "databases").glob("*.yaml"))]
    dashboards = [read(p) for p in sorted((root / "dashboards").glob("*/*.yaml"))]
    return databases, dashboards


def _require(spec: dict, key: str, where: str) -> Any:
    if key not in spec:
        raise SpecError(f"{where}: missing '{key}'")
    return spec[key]


def _metric(label: str, sql: str) -> dict:
    return {
        "expressionType": "SQL",
        "sqlExpression": sql,
        "label": label,
        "hasCustomLabel": True,
        "optionName": "metric_" + stable_uuid(label, sql)[:8],
    }


def _time_filter(column: str, time_range: str) -> dict:
    return {
        "clause": "WHERE",
        "comparator": time_range,
        "expressionType": "SIMPLE",
        "operator": "TEMPORAL_RANGE",
        "subject": column,
    }


def chart_params(chart: dict, where: str) -> dict:
    kind = _require(chart, "type", where)
    if kind not in VIZ_TYPES:
        raise SpecError(f"{where}: type '{kind}' is not one of {', '.join(VIZ_TYPES)}")
    metrics_spec = _require(chart, "metrics", where)
    if not isinstance(metrics_spec, dict) or not all(isinstance(v, str) and v for v in metrics_spec.values()):
        raise SpecError(f"{where}: metrics must map each label to an SQL expression")
    metrics = [_metric(label, sql) for label, sql in metrics_spec.items()]
    filters = []
    if chart.get("where"):
        filters.append(
            {"expressionType": "SQL", "clause": "WHERE", "sqlExpression": chart["where"], "subject": None}
        )
    params: dict[str, Any] = {"viz_type": VIZ_TYPES[kind], "adhoc_filters": filters, "extra_form_data": {}}
    if chart.get("time_range"):
        # Superset's time range syntax, e.g. 'DATEADD(DATETIME("now"), -1, hour) : now'.
        filters.append(_time_filter(_require(chart, "time_column", where), chart["time_range"]))
    if kind in ("line", "bar"):
        x = _require(chart, "x", where)
        if not chart.get("time_range"):
            filters.append(_time_filter(x, "No filter"))
        params |= {
            "x_axis": x,
            "time_grain_sqla": chart.get("time_grain", "P1D"),
            "metrics": metrics,
            "groupby": chart.get("groupby", []),
            "row_limit": chart.get("row_limit", 10000),
            # A legend only when there is more than one line (several metrics, or one per group).
            "show_legend": len(metrics) > 1 or bool(chart.get("groupby")),
            "rich_tooltip": True,
            "x_axis_time_format": "smart_date",
            "y_axis_format": "SMART_NUMBER",
            "truncateXAxis": True,
            # Markers, so that a single day (a fresh demo) is visible as a point.
            "markerEnabled": True,
            "markerSize": 6,
        }
    elif kind == "big_number":
        params |= {"metric": metrics[0], "header_font_size": 0.4, "subheader_font_size": 0.15}
    elif kind == "table":
        params |= {
            "query_mode": "aggregate",
            "groupby": _require(chart, "groupby", where),
            "metrics": metrics,
            "timeseries_limit_metric": metrics[0],
            "order_desc": True,
            "row_limit": chart.get("row_limit", 100),
            "server_pagination": False,
        }
    elif kind == "pie":
        params |= {
            "groupby": _require(chart, "groupby", where),
            "metric": metrics[0],
            "row_limit": chart.get("row_limit", 100),
            "show_labels": True,
            "label_type": "key_value",
            "show_legend": True,
        }
    return params


def _position(title: str, placed: list[tuple[dict, str]]) -> dict:
    """Superset's layout tree: rows of charts, filled left to right up to the grid width."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": title}},
    }
    row_id, used = None, GRID_WIDTH
    for index, (chart, chart_uuid) in enumerate(placed):
        width = int(chart.get("width", GRID_WIDTH))
        if row_id is None or used + width > GRID_WIDTH:
            row_id, used = f"ROW-{len(position['GRID_ID']['children'])}", 0
            position["GRID_ID"]["children"].append(row_id)
            position[row_id] = {
                "type": "ROW",
                "id": row_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID"],
                "meta": {"background": "BACKGROUND_TRANSPARENT"},
            }
        chart_id = f"CHART-{index}"
        position[row_id]["children"].append(chart_id)
        position[chart_id] = {
            "type": "CHART",
            "id": chart_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID", row_id],
            "meta": {
                "width": width,
                "height": int(chart.get("height", 25 if chart["type"] == "big_number" else 50)),
                "chartId": index + 1,
                "uuid": chart_uuid,
                "sliceName": chart["name"],
            },
        }
        used += width
    return position


def render_bundle(
    databases: list[dict], dashboards: list[dict], environ: dict[str, str], root: Path = HERE
) -> tuple[dict[str, str], list[str]]:
    """Superset import files {path: YAML} and the list of what was skipped, and why."""
    files: dict[str, Any] = {
        "metadata.yaml": {
            "version": "1.0.0",
            "type": "Dashboard",
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        }
    }
    skipped: list[str] = []
    database_uuids: dict[str, str] = {}
    for db in databases:
        name = _require(db, "name", db["_file"])
        uri = expand(_require(db, "uri", db["_file"]), environ)
        if uri is None:
            skipped.append(f"database '{name}' ({db['_file']}): a variable of its uri is not set")
            continue
        if db.get("password_env"):
            uri = _with_password_placeholder(uri)
        database_uuids[name] = stable_uuid("database", name)
        files[f"databases/{_slug(name)}.yaml"] = {
            "database_name": name,
            "sqlalchemy_uri": uri,
            "expose_in_sqllab": True,
            "allow_run_async": False,
            "allow_ctas": False,
            "allow_cvas": False,
            "allow_dml": False,
            "extra": {"engine_params": db.get("engine_params", {}), "allows_virtual_table_explore": True},
            "uuid": database_uuids[name],
            "version": "1.0.0",
        }

    for board in dashboards:
        where = board["_file"]
        title = _require(board, "title", where)
        db_name = _require(board, "database", where)
        if db_name not in database_uuids:
            skipped.append(f"dashboard '{title}' ({where}): database '{db_name}' is not provisioned")
            continue
        dataset_uuids = {}
        for key, dataset in _require(board, "datasets", where).items():
            # A table (or view) by name, or a query (a "virtual" dataset named by its key), written here or
            # kept in a named-query file of the repository (one definition for the reports and their tests).
            if "sql" in dataset:
                table, sql = key, dataset["sql"]
            elif "query_file" in dataset:
                table = key
                sql = named_query(
                    root / dataset["query_file"], _require(dataset, "query", f"{where}: datasets.{key}")
                )
            else:
                table, sql = _require(dataset, "table", f"{where}: datasets.{key}"), None
            dataset_uuids[key] = stable_uuid("dataset", db_name, table)
            files[f"datasets/{_slug(db_name)}/{table}.yaml"] = {
                "table_name": table,
                "schema": dataset.get("schema", "main" if sql is None else None),
                "catalog": None,
                "database_uuid": database_uuids[db_name],
                "uuid": dataset_uuids[key],
                "columns": [],
                "metrics": [],
                "sql": sql,
                "params": None,
                "template_params": None,
                "filter_select_enabled": True,
                "fetch_values_predicate": None,
                "extra": None,
                "normalize_columns": False,
                "always_filter_main_dttm": False,
                "offset": 0,
                "cache_timeout": None,
                "version": "1.0.0",
            }
        placed = []
        for number, chart in enumerate(_require(board, "charts", where), start=1):
            chart_where = f"{where}: chart {number} ({chart.get('name', '?')})"
            name = _require(chart, "name", chart_where)
            dataset_key = _require(chart, "dataset", chart_where)
            if dataset_key not in dataset_uuids:
                raise SpecError(f"{chart_where}: dataset '{dataset_key}' is not among this file's datasets")
            chart_uuid = stable_uuid("chart", title, name)
            params = chart_params(chart, chart_where)
            files[f"charts/{_slug(title)}/{_slug(name)}.yaml"] = {
                "slice_name": name,
                "description": chart.get("description"),
                "viz_type": params["viz_type"],
                "params": params,
                "query_context": None,
                "cache_timeout": None,
                "uuid": chart_uuid,
                "dataset_uuid": dataset_uuids[dataset_key],
                "version": "1.0.0",
            }
            placed.append((chart, chart_uuid))
        files[f"dashboards/{_slug(title)}.yaml"] = {
            "dashboard_title": title,
            "description": board.get("description"),
            "css": "",
            "slug": board.get("slug", _slug(title)),
            "certified_by": None,
            "certification_details": None,
            "published": True,
            "uuid": stable_uuid("dashboard", title),
            "position": _position(title, placed),
            "metadata": {
                "refresh_frequency": int(board.get("refresh_seconds", 0)),
                "timed_refresh_immune_slices": [],
                "expanded_slices": {},
                "color_scheme": "supersetColors",
                "native_filter_configuration": [],
                "cross_filters_enabled": False,
            },
            "version": "1.0.0",
        }
    return {path: yaml.safe_dump(body, sort_keys=False) for path, body in files.items()}, skipped


def named_query(path: Path, name: str) -> str:
    """The block after `-- name: <name>` in an SQL file of named queries, without comments and `;`."""
    if not path.exists():
        raise SpecError(f"query file {path} does not exist")
    blocks = re.split(r"^-- name: *(\S+) *$", path.read_text(), flags=re.MULTILINE)
    queries = dict(zip(blocks[1::2], blocks[2::2], strict=True))
    if name not in queries:
        raise SpecError(f"{path}: no query '-- name: {name}' (there are: {', '.join(queries)})")
    lines = [
        line for line in queries[name].splitlines() if line.strip() and not line.lstrip().startswith("--")
    ]
    return "\n".join(lines).strip().rstrip(";").strip()


# What Superset writes in place of a password in the URIs it exports. Superset's import keeps the password
# handed over separately only when the URI carries this mask; a URI without one clears it.
PASSWORD_MASK = "X" * 10


def _with_password_placeholder(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    user, at, host = rest.partition("@")
    if not sep or not at or ":" in user:
        return uri
    return f"{scheme}://{user}:{PASSWORD_MASK}@{host}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def database_passwords(databases: list[dict], environ: dict[str, str] | None = None) -> dict[str, str]:
    """{bundle path: password} for databases naming a `password_env` (kept out of the URI and the files)."""
    environ = os.environ if environ is None else environ
    return {
        f"databases/{_slug(db['name'])}.yaml": environ[db["password_env"]]
        for db in databases
        if db.get("password_env") and environ.get(db["password_env"])
    }


def _ensure_admin(security_manager) -> str:
    """Create the admin user if missing (SUPERSET_ADMIN_PASSWORD); reset its password when asked."""
    username = os.environ.get("SUPERSET_ADMIN_USER", "admin")
    password = os.environ.get("SUPERSET_ADMIN_PASSWORD", "")
    user = security_manager.find_user(username=username)
    if user is None:
        if not password:
            raise SystemExit("SUPERSET_ADMIN_PASSWORD is not set: it is needed to create the admin user")
        role = security_manager.find_role(security_manager.auth_role_admin)
        security_manager.add_user(
            username, "ShopFlow", "Admin", f"{username}@localhost", role, password=password
        )
        return "created"
    if password and os.environ.get("SUPERSET_ADMIN_RESET") == "1":
        security_manager.reset_password(user.id, password)
        return "password reset"
    return "exists"


def main() -> int:
    """Set up Superset's metadata (migrations, roles, admin) and import the dashboards, in one process.

    The migrations and role sync run only when the Superset version differs from the one recorded in
    the metadata folder: they take most of a start on a small machine.
    """
    databases, dashboards = load_specs()
    contents, skipped = render_bundle(databases, dashboards, dict(os.environ))
    for line in skipped:
        print(f"skipped {line}")

    from importlib.metadata import version

    from flask_migrate import upgrade
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import appbuilder, db, security_manager
        from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand
        from superset.connectors.sqla.models import SqlaTable
        from superset.utils.core import override_user

        marker = Path(app.config["DASHBOARD_HOME"]) / "metadata-version"
        wanted = version("apache-superset")
        if not marker.exists() or marker.read_text().strip() != wanted:
            upgrade()
            appbuilder.add_permissions(update_perms=True)
            security_manager.sync_role_definitions()
            marker.write_text(wanted + "\n")
            print(f"metadata: migrated to Superset {wanted}")
        print(f"admin: {_ensure_admin(security_manager)}")
        db.session.commit()

        admin = security_manager.find_user(username=os.environ.get("SUPERSET_ADMIN_USER", "admin"))
        with override_user(admin):
            ImportDashboardsCommand(contents, overwrite=True, passwords=database_passwords(databases)).run()
            wanted_uuids = [
                uuid.UUID(yaml.safe_load(body)["uuid"])
                for path, body in contents.items()
                if path.startswith("datasets/")
            ]
            for dataset in db.session.query(SqlaTable).filter(SqlaTable.uuid.in_(wanted_uuids)):
                try:
                    dataset.fetch_metadata()
                except Exception as exc:  # noqa: BLE001 - a table not built yet must not stop the others
                    print(f"dataset {dataset.table_name}: no columns yet ({str(exc).splitlines()[0]})")
            db.session.commit()
    boards = [p for p in contents if p.startswith("dashboards/")]
    charts = [p for p in contents if p.startswith("charts/")]
    print(f"provisioned {len(boards)} dashboards, {len(charts)} charts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
