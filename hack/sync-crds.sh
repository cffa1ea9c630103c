#!/usr/bin/env bash
# Copies the generated CRDs (crds/, from `cargo run -q -- crd --out-dir crds`) to the two places
# that must ship them as files of their own: the Helm chart's crds/ directory and the kustomize
# base config/crd/bases/. Neither tool can reach ../../crds: `helm package` keeps only files
# under the chart, and kustomize refuses files outside a kustomization's root (symlinks too).
# tests/packaging.rs fails when a copy differs from crds/.
#
#   hack/sync-crds.sh            copy
#   hack/sync-crds.sh --regen    regenerate crds/ from the API types first
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ "${1:-}" = --regen ]; then
  cargo run -q -- crd --out-dir crds
fi

for dest in charts/chitty-operator/crds config/crd/bases; do
  mkdir -p "$dest"
  rm -f "$dest"/*.yaml
  cp crds/*.yaml "$dest"/
  echo "sync-crds: $dest <- crds/ ($(ls crds/*.yaml | wc -l) files)"
done
