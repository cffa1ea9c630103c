#!/usr/bin/env bash
# Runs the pinned cargo-deny (deny.toml) over the dependency tree: `check bans licenses sources`
# unless told otherwise. Installs it on first use with `cargo install --locked` into a cache outside
# the repository keyed by its version (like hack/build-tools.sh's tools), so later runs start at
# once. The checks it runs need no advisory database, and none is fetched.
#
#   hack/cargo-deny.sh                         check bans licenses sources
#   hack/cargo-deny.sh check licenses          anything else `cargo deny` takes
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=0.20.2
cache=${CHITTY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chitty-operator/tools}
root="$cache/cargo-deny-$version"
bin="$root/bin/cargo-deny"

if [ ! -x "$bin" ]; then
  echo "cargo-deny.sh: installing cargo-deny $version into $root (once) ..." >&2
  start=$SECONDS
  tmp="$root.tmp.$$"
  rm -rf "$tmp"
  cargo install cargo-deny --locked --version "$version" --root "$tmp"
  mkdir -p "$root" && rm -rf "$root/bin" && mv "$tmp/bin" "$root/bin" && rm -rf "$tmp"
  echo "cargo-deny.sh: built cargo-deny in $((SECONDS - start)) s" >&2
fi

cd "$repo"
[ $# -gt 0 ] || set -- check --hide-inclusion-graph bans licenses sources
# --offline: no crates.io index update and no advisory database fetch; the metadata comes from
# Cargo.lock and the sources cargo already has (`cargo fetch --locked` when they are missing).
cargo fetch --locked --quiet
exec "$bin" deny --offline --all-features "$@"
