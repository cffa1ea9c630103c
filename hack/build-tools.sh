#!/usr/bin/env bash
# Builds the pinned control-plane and packaging tools from the Go module proxy into a cache outside
# the repository, keyed by each tool module's go.mod/go.sum, so a fresh clone on the same machine
# reuses them. Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${CHITTY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chitty-operator/tools}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

kube_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/tools/kubernetes/go.mod")

# A module whose own main package is the tool (kstatus, argolua) is keyed by its main.go too.
key() {
  local dir="$here/tools/$1" main=()
  [ -f "$dir/main.go" ] && main=("$dir/main.go")
  cat "$dir/go.mod" "$dir/go.sum" "${main[@]}" | sha256sum | cut -c1-12
}

# build_once NAME BINARY... -- BUILD-COMMAND: runs the command in the tool module unless every binary is cached.
build_once() {
  local name=$1; shift
  local bins=(); while [ "$1" != "--" ]; do bins+=("$1"); shift; done; shift
  local out="$cache/$name-$(key "$name")"
  local missing=0
  for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing=1; done
  if [ $missing = 1 ]; then
    echo "building $name (${bins[*]}) into $out ..." >&2
    local start=$SECONDS
    mkdir -p "$out.tmp"
    (cd "$here/tools/$name" && OUT="$out.tmp" "$@") >&2
    mkdir -p "$out" && mv "$out.tmp"/* "$out"/ && rmdir "$out.tmp"
    echo "built $name in $((SECONDS - start)) s" >&2
  fi
  mkdir -p "$cache/bin"
  for b in "${bins[@]}"; do ln -sf "$out/$b" "$cache/bin/$b"; done
}

kube_ldflags() {
  local v=$kube_version minor
  minor=$(echo "$v" | cut -d. -f2)
  local f="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  echo "$f"
}

build_kube() {
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    go build -trimpath -ldflags "$(kube_ldflags)" -o "$OUT/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done
}
build_tools() { # every `tool` of the module, named after its last path element
  go build -trimpath -ldflags "-s -w" -o "$OUT/" tool
}

# kwok's default Stages, as kwokctl writes them into a cluster given no Stage of its own (node-initialize,
# node-heartbeat-with-lease, and pod-ready, pod-complete, pod-delete), taken from the pinned kwok module
# into its versioned cache dir. scripts/cluster.sh passes them to kwokctl beside hack/kwok-stages.yaml:
# a cluster given any Stage gets none of kwok's defaults.
kwok_default_stages() {
  local out file=kwok-default-stages.yaml
  out="$cache/kwok-$(key kwok)"
  if ! [ -s "$out/$file" ]; then
    local src
    src=$(cd "$here/tools/kwok" && go mod download sigs.k8s.io/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
    [ -d "$src/kustomize/stage" ] || { echo "kwok module source not found (got '$src')" >&2; exit 1; }
    local s
    for s in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
      pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
      printf -- '---\n# %s\n' "sigs.k8s.io/kwok/kustomize/stage/$s.yaml"
      cat "$src/kustomize/stage/$s.yaml"
    done >"$out/$file.tmp"
    mv "$out/$file.tmp" "$out/$file"
  fi
  mkdir -p "$cache/share"
  ln -sf "$out/$file" "$cache/share/$file"
}

# The Gateway API's standard-channel CRDs (GatewayClass, Gateway, HTTPRoute, ReferenceGrant) of the
# pinned sigs.k8s.io/gateway-api module, for the local cluster (scripts/cluster.sh up installs them):
# the operator's gateway routing backend writes HTTPRoutes. Taken from the module source, like kwok's
# Stages; nothing is built.
gateway_api_crds() {
  local out file=gateway-api-crds.yaml
  out="$cache/gateway-api-$(key gateway-api)"
  if ! [ -s "$out/$file" ]; then
    local src kind
    src=$(cd "$here/tools/gateway-api" && go mod download sigs.k8s.io/gateway-api &&
      go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
    [ -d "$src/config/crd/standard" ] || { echo "gateway-api module source not found (got '$src')" >&2; exit 1; }
    mkdir -p "$out"
    for kind in gatewayclasses gateways httproutes referencegrants; do
      printf -- '---\n# %s\n' "sigs.k8s.io/gateway-api/config/crd/standard/gateway.networking.k8s.io_$kind.yaml"
      cat "$src/config/crd/standard/gateway.networking.k8s.io_$kind.yaml"
    done >"$out/$file.tmp"
    mv "$out/$file.tmp" "$out/$file"
  fi
  mkdir -p "$cache/share"
  ln -sf "$out/$file" "$cache/share/$file"
}

# Flux's CRDs (source.toolkit.fluxcd.io: every kind source-controller watches, so its informers start;
# kustomize.toolkit.fluxcd.io: Kustomization), taken from the pinned modules' config/crd/bases into the
# flux tool's versioned cache dir, for tests/flux.rs to apply. Never fetched at test time.
flux_crds() {
  local out file=flux-crds.yaml
  out="$cache/flux-$(key flux)"
  if ! [ -s "$out/$file" ]; then
    local m src
    for m in source-controller kustomize-controller; do
      src=$(cd "$here/tools/flux" && go mod download "github.com/fluxcd/$m" &&
        go list -m -f '{{.Dir}}' "github.com/fluxcd/$m")
      [ -d "$src/config/crd/bases" ] || { echo "$m module source not found (got '$src')" >&2; exit 1; }
      local f
      for f in "$src"/config/crd/bases/*.yaml; do
        printf -- '---\n# %s\n' "github.com/fluxcd/$m/config/crd/bases/$(basename "$f")"
        sed '/^---$/d' "$f"
      done
    done >"$out/$file.tmp"
    mv "$out/$file.tmp" "$out/$file"
  fi
  mkdir -p "$cache/share"
  ln -sf "$out/$file" "$cache/share/$file"
}

build_once etcd etcd -- bash -c 'go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3'
build_once kwok kwok kwokctl -- bash -c "$(declare -f build_tools); build_tools"
kwok_default_stages
gateway_api_crds
build_once helm helm -- bash -c "$(declare -f build_tools); build_tools"
# Test helpers whose own main package is the module: kstatus computes objects' kstatus with the upstream
# library (what Flux and kpt decide with); argolua runs Argo CD's health script in Argo CD's interpreter.
build_once kstatus kstatus -- bash -c 'go build -trimpath -ldflags "-s -w" -o "$OUT/kstatus" .'
build_once argolua argolua -- bash -c 'go build -trimpath -ldflags "-s -w" -o "$OUT/argolua" .'
build_once kubernetes kube-apiserver kube-controller-manager kube-scheduler kubectl -- \
  bash -c "kube_version=$kube_version; $(declare -f kube_ldflags build_kube); build_kube"
build_once flux source-controller kustomize-controller -- bash -c "$(declare -f build_tools); build_tools"
flux_crds

echo "$cache/bin"
