"""Superset configuration of the ShopFlow dashboard (SUPERSET_CONFIG_PATH points here).

Everything comes from the environment; `shopflow dashboard` sets it (and generates SUPERSET_SECRET_KEY
into <SHOPFLOW_HOME>/generated.env on first start), docker-compose passes the same variables.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snapshot import refresh  # noqa: E402  (this folder is not a package: Superset loads the file by path)

SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY") or sys.exit(
    "SUPERSET_SECRET_KEY is not set: start the dashboard with `shopflow dashboard`, or export it"
)

DASHBOARD_HOME = Path(os.environ.get("SHOPFLOW_DASHBOARD_HOME", Path.cwd())).resolve()
# Superset's own metadata (users, charts, dashboards): SQLite unless a server database is given.
SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_METADATA_URI") or f"sqlite:///{DASHBOARD_HOME}/superset.db"

# The warehouse the dashboards show, and the read-only snapshot Superset actually queries (snapshot.py).
WAREHOUSE = os.environ.get("SHOPFLOW_DASHBOARD_WAREHOUSE", "")
SNAPSHOT = os.environ.get("SHOPFLOW_DASHBOARD_SNAPSHOT", str(DASHBOARD_HOME / "warehouse-snapshot.duckdb"))
SNAPSHOT_SECONDS = float(os.environ.get("SHOPFLOW_DASHBOARD_SNAPSHOT_SECONDS", "10"))


def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):  # noqa: N802 (Superset's name)
    """Before a DuckDB query, republish the snapshot if the warehouse changed (throttled)."""
    if uri.drivername.startswith("duckdb") and WAREHOUSE:
        refresh(Path(WAREHOUSE), Path(SNAPSHOT), SNAPSHOT_SECONDS)
    return uri, params


# Live numbers: no result cache, so a 30-second dashboard refresh shows new page views.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True}
# The server listens on loopback only (or inside its container); no example data.
SUPERSET_LOAD_EXAMPLES = False
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = False
