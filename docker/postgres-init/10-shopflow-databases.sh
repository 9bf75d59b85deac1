#!/usr/bin/env bash
# First start of the compose PostgreSQL: the same databases and read-only role `shopflow services up`
# creates natively (shopflow_assets/devstack/postgres.py). psql variables quote every name and password.
set -euo pipefail
: "${POSTGRES_READER_USER:?}" "${POSTGRES_READER_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
  -v owner="$POSTGRES_USER" -v reader="$POSTGRES_READER_USER" -v reader_password="$POSTGRES_READER_PASSWORD" \
  -v shopflow_db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'reader') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader')\gexec
ALTER ROLE :"reader" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';
ALTER ROLE :"reader" SET default_transaction_read_only = on;
GRANT pg_read_all_stats TO :"reader";
SELECT format('CREATE DATABASE %I OWNER %I', d, :'owner') FROM unnest(array['totesys', 'rainforest', 'warehouse']) d
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)\gexec
-- PUBLIC may connect to every database by default: here only owners and the roles granted CONNECT may
-- (the reader: the sources and the warehouse, below; never POSTGRES_DB, where Dagster keeps its runs).
SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', d)
  FROM unnest(array['totesys', 'rainforest', 'warehouse', 'postgres', :'shopflow_db']) d\gexec
SQL

for db in totesys rainforest warehouse; do
  psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$db" -v owner="$POSTGRES_USER" -v reader="$POSTGRES_READER_USER" \
    -v db="$db" <<'SQL'
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
SQL
done

# The warehouse is read by the dashboards: there the reader may read every schema the owner creates
# (the ERP star schema is `erp`), like reporting_databases in devstack/postgres.py.
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d warehouse -v owner="$POSTGRES_USER" -v reader="$POSTGRES_READER_USER" <<'SQL'
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" GRANT USAGE ON SCHEMAS TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" GRANT SELECT ON TABLES TO :"reader";
SQL
