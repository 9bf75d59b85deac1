#!/usr/bin/env bash
# `make test`: installs what it needs, starts the real services, runs lint and the whole test suite with
# coverage, and always stops the services again. Prints how long each phase took.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -a PHASES=()
phase() {
  local name=$1; shift
  local start=$SECONDS
  echo "==> ${name}"
  "$@"
  PHASES+=("$(printf '%-28s %5ds' "$name" $((SECONDS - start)))")
}
report() {
  echo "==> phase timings"
  printf '    %s\n' "${PHASES[@]}"
}

install_uv() {
  if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet "uv>=0.9,<1"
  fi
}
uv_cmd() { if command -v uv >/dev/null 2>&1; then uv "$@"; else python3 -m uv "$@"; fi; }

stop_services() { uv_cmd run shopflow services down || true; }

phase "install uv" install_uv
phase "python environment" uv_cmd sync --frozen
lint() { uv_cmd run ruff check . && uv_cmd run ruff format --check .; }
# bandit: no medium or high finding unless explained in place with `# nosec <id> <reason>`
security_lint() { uv_cmd run bandit -q -r shopflow_assets bench airflow/dags --severity-level medium; }

phase "lint (ruff)" lint
# infra/terraform formatted as `tofu fmt` writes it; OpenTofu is built once from the Go module proxy.
terraform_fmt() {
  local tofu
  tofu=$(bash scripts/install_tofu.sh)
  "$tofu" fmt -check -recursive -diff infra/terraform
  "$tofu" fmt - < infra/terraform/terraform.tfvars.example | diff -u infra/terraform/terraform.tfvars.example -
}
phase "lint (tofu fmt)" terraform_fmt
phase "security lint (bandit)" security_lint
phase "airflow environment" bash airflow/install.sh
phase "dashboard environment" bash dashboard/install.sh
phase "spark jars" uv_cmd run shopflow spark jars
# Every test process that starts Spark maps the recorded classes instead of loading them (docs/runtime.md).
phase "spark class archive" uv_cmd run shopflow spark class-archive
phase "dbt parse" uv_cmd run shopflow dbt-prepare
trap 'stop_services; report' EXIT
phase "services up" uv_cmd run shopflow services up
phase "services status" uv_cmd run shopflow services status

set +e
start=$SECONDS
echo "==> tests"
uv_cmd run pytest --cov=shopflow_assets --cov-report=term --cov-report=xml:coverage.xml "$@"
status=$?
PHASES+=("$(printf '%-28s %5ds' "tests" $((SECONDS - start)))")
set -e
# pytest exits 5 when it collected no test: that is a failure of the suite, not a pass.
exit $status
