#!/usr/bin/env bash
# Builds the pinned OpenTofu CLI from the Go module proxy into the shared cache (once) and prints its path.
# scripts/test.sh uses it for `tofu fmt -check` on infra/terraform; no provider is downloaded.
# Not `go install …@version`: OpenTofu's go.mod has a replace directive (its fork of hcl), which
# `go install` refuses outside the main module; so the module is downloaded and built as the main module.
set -euo pipefail
TOFU_VERSION=v1.10.10
cache="${SHOPFLOW_CACHE_DIR:-$HOME/.cache/shopflow}/tofu-${TOFU_VERSION}"
if [[ ! -x "$cache/tofu" ]]; then
  go=$(command -v go || echo /usr/local/go/bin/go)
  [[ -x "$go" ]] || { echo "OpenTofu is built from source and needs the Go toolchain (>= 1.24)" >&2; exit 1; }
  src=$("$go" mod download -json "github.com/opentofu/opentofu@${TOFU_VERSION}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  partial="$cache.partial"
  rm -rf "$partial" && mkdir -p "$partial"
  # A .partial folder renamed when complete: an interrupted build never looks finished.
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod nice -n 10 "$go" build -trimpath -o "$partial/tofu" ./cmd/tofu) >&2
  rm -rf "$cache" && mv "$partial" "$cache"
fi
echo "$cache/tofu"
