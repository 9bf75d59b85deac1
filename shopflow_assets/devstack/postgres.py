"""PostgreSQL from Debian's packages, as a private cluster inside the stack (not the system cluster).

PostgreSQL refuses to run as root. When `shopflow` runs as root, the cluster is owned and run by the
`postgres` system user (created by Debian's package), and the directories above it must let that user in.
"""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
from pathlib import Path

from shopflow_assets.devstack.base import DevstackError, NativeService, Reporter
from shopflow_assets.devstack.health import ServiceUnavailableError, port_open
from shopflow_assets.devstack.process import LaunchSpec, run_as_kwargs
from shopflow_assets.redact import redact, scram_sha256_verifier
from shopflow_assets.settings import SOURCE_DATABASES, WAREHOUSE_DATABASE, Settings

POSTGRES_ROOT = Path("/usr/lib/postgresql")
# The database initdb creates for administration; the bootstrap connects to it as the cluster owner.
MAINTENANCE_DATABASE = "postgres"
# A unix socket path longer than this (sun_path) cannot be bound.
MAX_SOCKET_PATH = 107


def find_bin_dir(root: Path = POSTGRES_ROOT) -> Path:
    """The bin directory of the highest PostgreSQL major version installed by Debian's packages."""
    found = []
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "postgres").exists():
                found.append((int(entry.name), entry / "bin"))
    if not found:
        raise DevstackError(
            f"PostgreSQL server not found under {root}: install it with `apt-get install postgresql` "
            "(only the binaries are used; the system cluster can stay stopped)."
        )
    return max(found)[1]


def cluster_owner() -> str:
    """The system user that owns and runs the cluster: `postgres` under root, else the current user."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise DevstackError(
                "running as root, PostgreSQL must run as the `postgres` system user, which does not exist: "
                "`apt-get install postgresql` creates it (or run shopflow as a normal user)"
            ) from None
        return "postgres"
    return pwd.getpwuid(os.geteuid()).pw_name


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote_ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def render_bootstrap_sql(
    user: str,
    password: str,
    database: str,
    reader: str | None = None,
    reader_password: str | None = None,
    extra_databases: tuple[str, ...] = (),
    reporting_databases: tuple[str, ...] = (),
) -> str:
    """psql script creating the roles and databases if missing, and (re)setting the passwords.

    Passwords are always set so that a changed POSTGRES_PASSWORD takes effect on the next `up`. They
    are sent as SCRAM verifiers and the session logs no statement: a failing ALTER ROLE would otherwise
    print a password into the server log. The
    reader role can log in, connect to each of `extra_databases` (the sources and the warehouse) and no
    other database (PUBLIC loses CONNECT on `database`, the extra ones and the maintenance database),
    read every table the owner creates in `public` there, and nothing else: its sessions are read-only by
    default and it owns nothing. In `reporting_databases`
    (the warehouse, read by the dashboards) it may read every schema the owner creates, not only `public`.
    """
    lines = [
        "SET log_statement = 'none';",
        "SET log_min_error_statement = 'panic';",
        f"SELECT format('CREATE ROLE %I LOGIN', {quote_literal(user)}) "  # nosec B608 # values quoted with quote_literal
        f"WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote_literal(user)})\\gexec",
        f"ALTER ROLE {quote_ident(user)} WITH LOGIN CREATEDB PASSWORD {quote_literal(scram_sha256_verifier(password))};",
    ]
    if reader:
        lines += [
            f"SELECT format('CREATE ROLE %I LOGIN', {quote_literal(reader)}) "  # nosec B608 # values quoted with quote_literal
            f"WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote_literal(reader)})\\gexec",
            f"ALTER ROLE {quote_ident(reader)} WITH LOGIN NOCREATEDB NOCREATEROLE "
            f"PASSWORD {quote_literal(scram_sha256_verifier(reader_password) if reader_password else '')};",
            f"ALTER ROLE {quote_ident(reader)} SET default_transaction_read_only = on;",
            # Lets an incremental extraction see when other sessions' open transactions began, so its
            # window never passes a row that is written but not yet committed (docs/erp.md).
            f"GRANT pg_read_all_stats TO {quote_ident(reader)};",
        ]
    for name in (database, *extra_databases):
        lines.append(
            f"SELECT format('CREATE DATABASE %I OWNER %I', {quote_literal(name)}, {quote_literal(user)}) "  # nosec B608 # values quoted with quote_literal
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {quote_literal(name)})\\gexec"
        )
    # PostgreSQL lets PUBLIC (every role) connect to every database; here only the application role and
    # the roles granted CONNECT below may (explicitly: a databases' owner from an older POSTGRES_USER
    # may be another role). The maintenance database is the cluster owner's alone.
    lines.append(f"REVOKE CONNECT ON DATABASE {quote_ident(MAINTENANCE_DATABASE)} FROM PUBLIC;")
    for name in (database, *extra_databases):
        lines += [
            f"REVOKE CONNECT ON DATABASE {quote_ident(name)} FROM PUBLIC;",
            f"GRANT CONNECT ON DATABASE {quote_ident(name)} TO {quote_ident(user)};",
        ]
    if reader:
        for name in extra_databases:
            lines += [
                f"\\connect {quote_ident(name)}",
                f"GRANT CONNECT ON DATABASE {quote_ident(name)} TO {quote_ident(reader)};",
                f"GRANT USAGE ON SCHEMA public TO {quote_ident(reader)};",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {quote_ident(reader)};",
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(user)} IN SCHEMA public "
                f"GRANT SELECT ON TABLES TO {quote_ident(reader)};",
            ]
        for name in reporting_databases:
            lines += [
                f"\\connect {quote_ident(name)}",
                *reporting_reader_grants(user, reader),
                # Schemas and tables created before these defaults existed (an older stack).
                f"SELECT format('GRANT USAGE ON SCHEMA %I TO %I', nspname, {quote_literal(reader)}), "
                f"format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', nspname, {quote_literal(reader)}) "
                f"FROM pg_namespace WHERE nspowner = {quote_literal(user)}::regrole\\gexec",  # nosec B608 # values quoted with quote_literal
            ]
    return "\n".join(lines) + "\n"


def reporting_reader_grants(user: str, reader: str) -> list[str]:
    """Run in a reporting database: the reader may read every schema and table `user` creates there."""
    return [
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(user)} GRANT USAGE ON SCHEMAS TO {quote_ident(reader)};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(user)} GRANT SELECT ON TABLES TO {quote_ident(reader)};",
    ]


def render_postgresql_conf(settings: Settings, socket_dir: Path) -> str:
    lines = {
        "listen_addresses": quote_literal(settings.postgres_host),
        "port": str(settings.postgres_port),
        "unix_socket_directories": quote_literal(str(socket_dir)),
        "password_encryption": "'scram-sha-256'",
        "max_connections": "100",
        "shared_buffers": "'128MB'",
        "logging_collector": "off",
        "log_destination": "'stderr'",
        "log_line_prefix": "'%m [%p] %q%u@%d '",
        "timezone": "'UTC'",
        "log_timezone": "'UTC'",
    }
    body = "".join(f"{key} = {value}\n" for key, value in lines.items())
    return "# Written by `shopflow services up` on every start; edit settings, not this file.\n" + body


def render_pg_hba(owner: str) -> str:
    # The cluster owner administers through the unix socket (peer); everyone else uses a password.
    return (
        "# Written by `shopflow services up` on every start.\n"
        f"local all {quote_ident(owner)} peer\n"
        "local all all scram-sha-256\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host all all ::1/128 scram-sha-256\n"
    )


def _write_as(path: Path, text: str, uid: int, gid: int, mode: int = 0o600) -> None:
    path.write_text(text)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _user_can_enter(directory: Path, user: pwd.struct_passwd) -> bool:
    info = directory.stat()
    if info.st_uid == user.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    groups = {user.pw_gid} | {g for g in os.getgrouplist(user.pw_name, user.pw_gid)}
    if info.st_gid in groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def ensure_traversable(directory: Path, user_name: str, ours: Path) -> None:
    """Let `user_name` reach `directory`: add o+x on our own directories, explain the others."""
    user = pwd.getpwnam(user_name)
    ours = ours.resolve()
    for parent in reversed(directory.resolve().parents):
        if _user_can_enter(parent, user):
            continue
        if parent == ours or ours in parent.parents:
            os.chmod(parent, parent.stat().st_mode | stat.S_IXOTH)
            continue
        raise DevstackError(
            f"PostgreSQL runs as the `{user_name}` system user, which cannot enter {parent} "
            f"(mode {stat.filemode(parent.stat().st_mode)}): set SHOPFLOW_HOME to a directory it can reach "
            f"or allow it in with `chmod o+x {parent}`."
        )


class PostgresService(NativeService):
    name = "postgres"
    title = "PostgreSQL"
    # SIGINT = "fast" shutdown: disconnects clients and checkpoints, instead of waiting for them (SIGTERM).
    stop_signal = signal.SIGINT
    stop_timeout = 30.0
    start_timeout = 60.0

    def address(self, settings: Settings) -> str:
        return f"{settings.postgres_host}:{settings.postgres_port}"

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [(settings.postgres_host, settings.postgres_port)]

    def pgdata(self, settings: Settings) -> Path:
        return self.data_dir(settings) / "data"

    def socket_dir(self, settings: Settings) -> Path:
        return self.data_dir(settings)

    def _run_user(self) -> str | None:
        return cluster_owner() if os.geteuid() == 0 else None

    def prepare(self, settings: Settings, reporter: Reporter) -> None:
        bin_dir = find_bin_dir()
        owner = pwd.getpwnam(cluster_owner())
        cluster_dir = self.data_dir(settings)
        socket = self.socket_dir(settings) / f".s.PGSQL.{settings.postgres_port}"
        if len(str(socket)) > MAX_SOCKET_PATH:
            raise DevstackError(
                f"PostgreSQL's socket path {socket} is longer than {MAX_SOCKET_PATH} characters: "
                "use a shorter SHOPFLOW_HOME"
            )
        cluster_dir.mkdir(parents=True, exist_ok=True)
        os.chown(cluster_dir, owner.pw_uid, owner.pw_gid)
        os.chmod(cluster_dir, 0o700)
        if owner.pw_uid != os.geteuid():
            ensure_traversable(cluster_dir, owner.pw_name, settings.home)

        pgdata = self.pgdata(settings)
        version_file = pgdata / "PG_VERSION"
        if version_file.exists():
            cluster_version = version_file.read_text().strip()
            if cluster_version != bin_dir.parent.name:
                raise DevstackError(
                    f"the PostgreSQL cluster in {pgdata} is version {cluster_version} but the installed server "
                    f"is {bin_dir.parent.name}: `shopflow services reset postgres` recreates it (data is lost)."
                )
        else:
            with reporter.phase(self.name, f"initdb (PostgreSQL {bin_dir.parent.name})"):
                self._run_checked(
                    [
                        str(bin_dir / "initdb"),
                        "--pgdata",
                        str(pgdata),
                        "--username",
                        owner.pw_name,
                        "--encoding",
                        "UTF8",
                        "--locale",
                        "C",
                        "--auth-local",
                        "peer",
                        "--auth-host",
                        "scram-sha-256",
                    ],
                    "initdb",
                    settings,
                )
        _write_as(
            pgdata / "shopflow.conf",
            render_postgresql_conf(settings, self.socket_dir(settings)),
            owner.pw_uid,
            owner.pw_gid,
        )
        _write_as(pgdata / "pg_hba.conf", render_pg_hba(owner.pw_name), owner.pw_uid, owner.pw_gid)
        main_conf = pgdata / "postgresql.conf"
        include = "include_if_exists = 'shopflow.conf'"
        if include not in main_conf.read_text():
            with main_conf.open("a") as handle:
                handle.write(f"\n# shopflow: settings from the environment\n{include}\n")

    def _run_checked(
        self, argv: list[str], what: str, settings: Settings, input_text: str | None = None
    ) -> str:
        result = subprocess.run(
            argv,
            input=input_text,
            capture_output=True,
            text=True,
            cwd="/",
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
            **run_as_kwargs(self._run_user()),
        )
        # defence in depth: the script never holds the clear password, but nothing printed may either
        secrets = [
            secret.get_secret_value()
            for secret in (settings.postgres_password, settings.postgres_reader_password)
            if secret is not None
        ]
        stdout, stderr = redact(result.stdout, secrets), redact(result.stderr, secrets)
        with self.log_file(settings).open("a") as log:
            log.write(f"\n=== {what}\n{stdout}{stderr}")
        if result.returncode != 0:
            raise DevstackError(f"PostgreSQL {what} failed (exit {result.returncode}): {stderr.strip()}")
        return stdout

    def launch_spec(self, settings: Settings) -> LaunchSpec:
        return LaunchSpec(
            argv=[str(find_bin_dir() / "postgres"), "-D", str(self.pgdata(settings))],
            cwd=Path("/"),
            user=self._run_user(),
        )

    def ready(self, settings: Settings) -> bool:
        """Accepting connections (before the application role exists)."""
        if not port_open(settings.postgres_host, settings.postgres_port, timeout=0.5):
            return False
        result = subprocess.run(
            [
                str(find_bin_dir() / "pg_isready"),
                "-q",
                "-h",
                settings.postgres_host,
                "-p",
                str(settings.postgres_port),
                "-t",
                "2",
            ],
            capture_output=True,
        )
        return result.returncode == 0

    def after_start(self, settings: Settings, reporter: Reporter) -> None:
        with reporter.phase(self.name, "role and database"):
            self._run_checked(
                [
                    str(find_bin_dir() / "psql"),
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    str(self.socket_dir(settings)),
                    "-p",
                    str(settings.postgres_port),
                    "-U",
                    cluster_owner(),
                    "-d",
                    MAINTENANCE_DATABASE,
                    "-f",
                    "-",
                ],
                "role and database bootstrap",
                settings,
                input_text=render_bootstrap_sql(
                    settings.postgres_user,
                    settings.secret("postgres_password"),
                    settings.postgres_db,
                    reader=settings.postgres_reader_user,
                    reader_password=settings.secret("postgres_reader_password"),
                    extra_databases=(*SOURCE_DATABASES, WAREHOUSE_DATABASE),
                    reporting_databases=(WAREHOUSE_DATABASE,),
                ),
            )

    def check(self, settings: Settings, timeout: float = 3.0) -> None:
        import psycopg

        address = self.address(settings)
        if not port_open(settings.postgres_host, settings.postgres_port, timeout=min(1.0, timeout)):
            raise ServiceUnavailableError(self.title, address, "nothing listens on that port")
        try:
            with psycopg.connect(
                host=settings.postgres_host,
                port=settings.postgres_port,
                dbname=settings.postgres_db,
                user=settings.postgres_user,
                password=settings.secret("postgres_password"),
                connect_timeout=max(1, int(timeout)),
            ) as conn:
                value = conn.execute("select 1").fetchone()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ServiceUnavailableError(self.title, address, f"select 1 failed: {reason}") from exc
        if value != (1,):
            raise ServiceUnavailableError(self.title, address, f"select 1 returned {value!r}")
