#!/usr/bin/env bash
# `make test`: installs what it needs, starts the real services, runs lint and the whole test suite with
# coverage, and always stops the services again. Prints how long each phase took.
# `make test-fast` (`scripts/test.sh fast`): only what the unit tier needs, then the unit tier, no coverage.
# Further arguments go to every pytest run. The tiers are described in docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
if [ "${1:-}" = fast ]; then
  mode=fast
  shift
fi

declare -a PHASES=()
phase() {
  local name=$1; shift
  local start=$SECONDS
  echo "==> ${name}"
  "$@"
  PHASES+=("$(printf '%-28s %5ds' "$name" $((SECONDS - start)))")
  echo "==> ${name}: $((SECONDS - start))s"
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

# A tier's pytest exit status, kept so the later tiers still run; exit 5 (nothing collected) counts as a
# failure: a tier that lost its tests must not pass.
status=0
run_tier() {
  local tier=$1; shift
  local code=0
  uv_cmd run pytest -m "$tier" --durations=30 "$@" || code=$?
  if [ "$code" -ne 0 ]; then
    echo "==> tier ${tier} FAILED (pytest exit ${code})"
    [ "$status" -ne 0 ] || status=$code
  fi
}

phase "install uv" install_uv
phase "python environment" uv_cmd sync --frozen

if [ "$mode" = fast ]; then
  trap report EXIT
  phase "spark jars" uv_cmd run shopflow spark jars
  phase "dbt parse" uv_cmd run shopflow dbt-prepare
  phase "tier unit" run_tier unit "$@"
  exit $status
fi

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

# One coverage measurement over the three runs: the first starts it, the others append. The gate
# (fail_under in pyproject.toml) applies once, to the combined result after the last tier; the earlier
# tiers report nothing and gate nothing.
phase "tier unit" run_tier unit --cov=shopflow_assets --cov-report= --cov-fail-under=0 "$@"
phase "tier stack" run_tier stack --cov=shopflow_assets --cov-append --cov-report= --cov-fail-under=0 "$@"
phase "tier slow" run_tier slow --cov=shopflow_assets --cov-append \
  --cov-report=term --cov-report=xml:coverage.xml "$@"
exit $status
