#!/usr/bin/env bash
# Pins the Dockerfile's builder image to the current digest of its tag: asks Docker Hub's registry
# API for the digest of the tag's multi-platform index (no image is pulled) and rewrites the
# `FROM docker.io/library/rust:<tag>@sha256:...` line. Run it when moving to a new Rust release
# (give the tag) or to pick up a rebuilt base (Debian security updates); review and commit the diff.
#
#   hack/update-base-image.sh               the tag already in the Dockerfile (e.g. 1.95-bookworm)
#   hack/update-base-image.sh 1.96-bookworm another tag
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile="$repo/Dockerfile"

current=$(sed -n 's#^FROM docker.io/library/rust:\([^@ ]*\)@sha256:[0-9a-f]* AS builder$#\1#p' "$dockerfile")
[ -n "$current" ] || { echo "update-base-image: no pinned rust FROM line in $dockerfile" >&2; exit 1; }
tag=${1:-$current}

token=$(curl -fsS "https://auth.docker.io/token?service=registry.docker.io&scope=repository:library/rust:pull" \
  | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "update-base-image: no registry token" >&2; exit 1; }
digest=$(curl -fsSI \
  -H "Authorization: Bearer $token" \
  -H "Accept: application/vnd.oci.image.index.v1+json" \
  -H "Accept: application/vnd.docker.distribution.manifest.list.v2+json" \
  "https://registry-1.docker.io/v2/library/rust/manifests/$tag" \
  | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: \(sha256:[0-9a-f]\{64\}\)$/\1/p')
[ -n "$digest" ] || { echo "update-base-image: no digest for rust:$tag" >&2; exit 1; }

sed -i "s#^FROM docker.io/library/rust:[^@ ]*@sha256:[0-9a-f]* AS builder\$#FROM docker.io/library/rust:$tag@$digest AS builder#" "$dockerfile"
echo "update-base-image: rust:$tag@$digest"
