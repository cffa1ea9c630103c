#!/usr/bin/env bash
# The whole test suite, from a clean clone: builds the pinned control plane (cached outside the
# repository), starts it, then runs every Rust test — unit, property and end-to-end. What it needs
# beyond Go and cargo it installs itself.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

need() { command -v "$1" >/dev/null 2>&1 || { echo "test.sh: $1 is required ($2)" >&2; exit 1; }; }
need go "the control plane is built from Go modules"
need cargo "the operator is a Rust crate"
need make "jemalloc, the operator's allocator, is built from C with make"
need cc "jemalloc and ring are built from C"

start=$SECONDS
echo "== control plane (cold: builds kube-apiserver and friends from the Go module proxy)"
scripts/cluster.sh up
echo "   control plane ready after $((SECONDS - start)) s"

# tests/dashboard_browser.rs drives Debian's headless Chromium through chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "== headless Chromium for the dashboard test (Debian's chromium, chromium-driver)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

echo "== formatting and lints"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings

echo "== dependency policy (cargo deny check bans licenses sources, deny.toml)"
# Installs the pinned cargo-deny once into the tool cache; runs offline (no advisory database).
hack/cargo-deny.sh

echo "== cargo test"
# Benchmarks are not tests: they run with `cargo bench` and write reports (see README).
cargo test --locked --no-fail-fast --lib --bins --tests -- --test-threads "${CHITTY_TEST_THREADS:-4}"
echo "== done in $((SECONDS - start)) s"
