#!/usr/bin/env bash
# Smoke test of the local control plane (scripts/cluster.sh up must have run): a Deployment must
# become Available and a Job Complete on the fake kwok nodes, and the audit log must record the
# writes with their user agent. Cleans up after itself.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
eval "$("$repo/scripts/cluster.sh" env)"
audit_log=$("$repo/scripts/cluster.sh" audit-log)
ns=chitty-smoke-$$

cleanup() { kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Our kubectl, not a system one: `env` put the tool dir first on PATH.
[ "$(command -v kubectl)" = "$(dirname "$(command -v kwokctl)")/kubectl" ] || {
  echo "kubectl on PATH is $(command -v kubectl), not the built one" >&2; exit 1; }

start=$SECONDS
kubectl create namespace "$ns"
kubectl -n "$ns" create deployment web --image=example.invalid/web:1 --replicas=1
kubectl -n "$ns" create job once --image=example.invalid/once:1
kubectl -n "$ns" wait deployment/web --for=condition=Available --timeout=120s
kubectl -n "$ns" wait job/once --for=condition=Complete --timeout=120s
kubectl -n "$ns" get pods -o wide
echo "deployment Available and job Complete after $((SECONDS - start)) s"

# One audit line per write. kubectl's user agent starts with "kubectl/"; the namespace's own create
# has the name only in objectRef.name, the others in objectRef.namespace, so match the name anywhere.
writes=$(grep -F "$ns" "$audit_log" | grep -cF '"userAgent":"kubectl/' || true)
echo "audit log: $writes kubectl write(s) in $ns"
[ "$writes" -ge 3 ] || { echo "expected at least 3 kubectl writes in the audit log" >&2; exit 1; }

kubectl -n "$ns" delete job/once deployment/web --wait=true
kubectl delete namespace "$ns" --wait=true --timeout=120s
trap - EXIT
echo "smoke test passed"
