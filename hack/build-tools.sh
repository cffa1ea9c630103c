#!/usr/bin/env bash
# Builds the pinned control-plane and packaging tools from the Go module proxy into a cache outside
# the repository, keyed by each tool module's go.mod/go.sum, so a fresh clone on the same machine
# reuses them. Prints the bin directory on stdout; progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${CHITTY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chitty-operator/tools}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

kube_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$here/tools/kubernetes/go.mod")

key() { cat "$here/tools/$1/go.mod" "$here/tools/$1/go.sum" | sha256sum | cut -c1-12; }

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

build_once etcd etcd -- bash -c 'go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3'
build_once kwok kwok kwokctl -- bash -c "$(declare -f build_tools); build_tools"
build_once helm helm -- bash -c "$(declare -f build_tools); build_tools"
build_once kubernetes kube-apiserver kube-controller-manager kube-scheduler kubectl -- \
  bash -c "kube_version=$kube_version; $(declare -f kube_ldflags build_kube); build_kube"

echo "$cache/bin"
