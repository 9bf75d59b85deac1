"""`shopflow dashboard`: the Superset dashboards over the warehouse (install, provision, start, stop).

Superset lives in its own environment, dashboard/.venv (dashboard/install.sh). Its state (metadata
SQLite, the warehouse snapshot, log, pid) is under <SHOPFLOW_HOME>/dashboard.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType

from shopflow_assets.settings import PROJECT_ROOT, Settings, get_settings

DASHBOARD_DIR = PROJECT_ROOT / "dashboard"
VENV = DASHBOARD_DIR / ".venv"
SECRET_KEY_VAR = "SUPERSET_SECRET_KEY"
ADMIN_USER = "admin"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="start the Superset dashboards on 127.0.0.1 (installs and provisions them first)",
        description=(
            "Installs Superset into dashboard/.venv if needed, provisions the databases, datasets, charts "
            "and dashboards in dashboard/ (as code), and starts Superset on 127.0.0.1:"
            "$SHOPFLOW_DASHBOARD_PORT (default 8088) in the background. The admin password is generated "
            "and printed once, when the admin user is created (or set SHOPFLOW_DASHBOARD_ADMIN_PASSWORD)."
        ),
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--stop", action="store_true", help="stop the running dashboard")
    action.add_argument("--status", action="store_true", help="say whether it runs, and where")
    action.add_argument(
        "--reset-password", action="store_true", help="give the admin a new generated password (printed)"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for it to answer")
    parser.set_defaults(func=_dashboard)


def dashboard_home(settings: Settings) -> Path:
    return settings.home / "dashboard"


def dashboard_port() -> int:
    text = os.environ.get("SHOPFLOW_DASHBOARD_PORT") or _dotenv_value("SHOPFLOW_DASHBOARD_PORT") or "8088"
    try:
        return int(text)
    except ValueError:
        raise RuntimeError(f"SHOPFLOW_DASHBOARD_PORT must be a port number, got {text!r}") from None


def _dotenv_value(name: str) -> str | None:
    """A variable from .env or generated.env (the settings model does not hold the dashboard's)."""
    from shopflow_assets.devstack.credentials import parse_env_file
    from shopflow_assets.settings import env_files

    value = None
    for path in env_files():  # later files win, like in the settings
        if Path(path).is_file():
            value = parse_env_file(Path(path).read_text()).get(name) or value
    return value


def snapshot_module() -> ModuleType:
    """dashboard/snapshot.py (shared with Superset's environment, which cannot import this package)."""
    spec = importlib.util.spec_from_file_location(
        "shopflow_dashboard_snapshot", DASHBOARD_DIR / "snapshot.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_secret_key(settings: Settings) -> str:
    """SUPERSET_SECRET_KEY from the environment or .env, else generated once into generated.env."""
    from shopflow_assets.devstack.credentials import (
        generated_env_path,
        parse_env_file,
        render_env_file,
        write_private,
    )
    from shopflow_assets.devstack.process import file_lock

    key = os.environ.get(SECRET_KEY_VAR) or _dotenv_value(SECRET_KEY_VAR)
    if key:
        return key
    path = generated_env_path(settings)
    with file_lock(path.with_name(f".{path.name}.lock")):
        values = parse_env_file(path.read_text()) if path.exists() else {}
        if not values.get(SECRET_KEY_VAR):
            values[SECRET_KEY_VAR] = secrets.token_hex(32)
            write_private(path, render_env_file(values))
    return values[SECRET_KEY_VAR]


def superset_env(settings: Settings, home: Path) -> dict[str, str]:
    return {
        "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", str(home)),
        "SUPERSET_HOME": str(home),
        "SUPERSET_CONFIG_PATH": str(DASHBOARD_DIR / "superset_config.py"),
        "FLASK_APP": "superset",
        SECRET_KEY_VAR: ensure_secret_key(settings),
        "SHOPFLOW_DASHBOARD_HOME": str(home),
        "SHOPFLOW_DASHBOARD_WAREHOUSE": str(settings.warehouse_path),
        "SHOPFLOW_DASHBOARD_SNAPSHOT": str(home / "warehouse-snapshot.duckdb"),
        "SHOPFLOW_DASHBOARD_SNAPSHOT_SECONDS": os.environ.get("SHOPFLOW_DASHBOARD_SNAPSHOT_SECONDS", "10"),
    }


def ensure_installed() -> None:
    """dashboard/install.sh: a second or so when dashboard/.venv already has the pinned versions."""
    if not (VENV / "bin" / "superset").exists():
        print("installing Superset into dashboard/.venv (once, about 700 MB)...", flush=True)
    if subprocess.run(["bash", str(DASHBOARD_DIR / "install.sh")], stdout=subprocess.DEVNULL).returncode != 0:
        raise RuntimeError("dashboard/install.sh failed (see its output above)")


def publish_snapshot(env: dict[str, str]) -> str:
    warehouse = Path(env["SHOPFLOW_DASHBOARD_WAREHOUSE"])
    snapshot = Path(env["SHOPFLOW_DASHBOARD_SNAPSHOT"])
    if not warehouse.exists():
        if not snapshot.exists():
            import duckdb

            snapshot.parent.mkdir(parents=True, exist_ok=True)
            duckdb.connect(str(snapshot)).close()  # an empty database, so Superset can connect
        return f"no warehouse at {warehouse} yet (run `shopflow demo`): the charts stay empty until then"
    if snapshot_module().publish(warehouse, snapshot):
        return f"published a read-only snapshot of {warehouse}"
    if not snapshot.exists():
        raise RuntimeError(f"{warehouse} is held by a writer right now: try again when its run is done")
    return "snapshot is up to date (or a writer holds the warehouse: the previous one is used)"


def provision(env: dict[str, str], admin_password: str | None, reset: bool) -> str:
    """Run dashboard/provision.py in Superset's environment; returns the admin status it reported."""
    run_env = dict(env)
    if admin_password:
        run_env["SUPERSET_ADMIN_PASSWORD"] = admin_password
        run_env["SUPERSET_ADMIN_RESET"] = "1" if reset else "0"
    result = subprocess.run(
        [str(VENV / "bin" / "python"), str(DASHBOARD_DIR / "provision.py")],
        cwd=env["SHOPFLOW_DASHBOARD_HOME"],
        env=run_env,
        capture_output=True,
        text=True,
    )
    log = Path(env["SHOPFLOW_DASHBOARD_HOME"]) / "provision.log"
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"provisioning the dashboards failed: {last} (full output: {log})")
    admin = "exists"
    for line in result.stdout.splitlines():
        if line.startswith("admin: "):
            admin = line.removeprefix("admin: ")
        elif line.startswith(("provisioned", "skipped", "dataset", "metadata")):
            print(f"  {line}")
    return admin


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:  # nosec B310 # a loopback http URL built here
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _dashboard(args: argparse.Namespace) -> int:
    from shopflow_assets.devstack.process import LaunchSpec, owned_pid, spawn, stop, tail

    settings = get_settings()
    home = dashboard_home(settings)
    pid_file, log_file = home / "superset.pid", home / "superset.log"
    port = dashboard_port()
    pid = owned_pid(pid_file, VENV)

    if args.stop:
        if pid is None:
            print("dashboard: not running")
            return 0
        print(f"dashboard: {stop(pid)} (pid {pid})")
        pid_file.unlink(missing_ok=True)
        return 0
    if args.status:
        state = "running" if pid and healthy(port) else ("starting" if pid else "stopped")
        print(f"dashboard: {state}" + (f" on http://127.0.0.1:{port} (pid {pid})" if pid else ""))
        return 0 if pid else 1

    ensure_installed()
    home.mkdir(parents=True, exist_ok=True)
    env = superset_env(settings, home)
    print(f"dashboard: {publish_snapshot(env)}")
    user_password = os.environ.get("SHOPFLOW_DASHBOARD_ADMIN_PASSWORD") or _dotenv_value(
        "SHOPFLOW_DASHBOARD_ADMIN_PASSWORD"
    )
    password = user_password or secrets.token_urlsafe(12)
    admin = provision(env, password, reset=bool(user_password) or args.reset_password)

    if pid is None:
        if port_in_use(port):
            raise RuntimeError(f"port {port} is taken by another program: set SHOPFLOW_DASHBOARD_PORT")
        argv = [str(VENV / "bin" / "superset"), "run", "-h", "127.0.0.1", "-p", str(port), "--with-threads"]
        pid = spawn(LaunchSpec(argv=argv, env=env, cwd=home), log_file, pid_file)
        deadline = time.monotonic() + args.timeout
        while not healthy(port):
            if owned_pid(pid_file, VENV) is None:
                last = "\n".join(tail(log_file, 15))
                raise RuntimeError(f"Superset exited while starting; the end of {log_file}:\n{last}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Superset did not answer within {args.timeout:.0f} s (log: {log_file})")
            time.sleep(1)
    print(f"dashboard: http://127.0.0.1:{port} (pid {pid}, log {log_file})")
    if user_password:
        print(f"  user {ADMIN_USER}, password from SHOPFLOW_DASHBOARD_ADMIN_PASSWORD")
    elif admin in ("created", "password reset"):
        # Printed once: it is stored nowhere but in Superset's metadata, hashed.
        print(f"  user {ADMIN_USER}, password {password}   (shown once; --reset-password makes a new one)")
    else:
        print(f"  user {ADMIN_USER} (password printed when it was created; --reset-password makes a new one)")
    print("  stop it with: shopflow dashboard --stop")
    return 0


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
