#!/usr/bin/env bash
# First start of the compose PostgreSQL: Airflow's metadata database `airflow`, owned by its own login
# role, so Airflow never touches ShopFlow's databases (and ShopFlow's roles never touch Airflow's).
set -euo pipefail
: "${AIRFLOW_DB_USER:?}" "${AIRFLOW_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
  -v airflow="$AIRFLOW_DB_USER" -v airflow_password="$AIRFLOW_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'airflow') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'airflow')\gexec
ALTER ROLE :"airflow" WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'airflow_password';
SELECT format('CREATE DATABASE airflow OWNER %I', :'airflow') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow')\gexec
REVOKE CONNECT ON DATABASE airflow FROM PUBLIC;
SQL
