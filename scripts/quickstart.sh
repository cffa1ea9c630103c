#!/usr/bin/env bash
# Quick start: a real local control plane, the chitty-sim stand-in for ChittyID, ChittyRegistry
# and the notification sink, and the operator running in the foreground on the sample services.
# Ctrl-C stops the operator and the sim; `scripts/cluster.sh down` stops the cluster.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

namespace=${CHITTY_DEMO_NAMESPACE:-chitty-demo}
sim_addr=${CHITTY_SIM_ADDR:-127.0.0.1:8099}
http_addr=${CHITTY_HTTP_ADDR:-127.0.0.1:8080}

scripts/cluster.sh up
eval "$(scripts/cluster.sh env)"
cargo build --locked --bins
bin=$repo/target/debug

kubectl apply --server-side --force-conflicts -f crds/
kubectl wait --for=condition=Established --timeout=60s crd -l app.kubernetes.io/part-of=chitty-operator
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
# The operator runs the default route policy (delegated): the samples' hosts are delegated to the
# demo namespace first, as a cluster administrator would.
sed "s/chitty-demo/$namespace/g" config/samples/delegation/chittydomains.yaml | kubectl apply -f -
kubectl apply -n "$namespace" -k config/samples

"$bin/chitty-sim" --listen "$sim_addr" --token sim-token &
sim_pid=$!
trap 'kill $sim_pid 2>/dev/null || true' EXIT

cat <<INFO

  The operator is starting on the sample services in namespace $namespace.
  In another terminal:
    eval "\$(scripts/cluster.sh env)"
    kubectl get chitty -n $namespace            # services, rollouts and route claims
    kubectl get chittydomains                   # which hosts are delegated to which namespaces
    kubectl wait --for=condition=Ready chittyservice --all -n $namespace --timeout=5m
  Dashboard and API:  http://$http_addr/   (metrics: http://$http_addr/metrics)
  Stand-in services:  http://$sim_addr/_sim/stats

INFO

# Pods are simulated by kwok, so nothing listens inside them: health checks go to the sim's
# /health instead of each in-cluster Service. The sim listens on loopback, which probes refuse
# unless allowed. The read API is open (--api-auth none) so that the
# dashboard works without a token: this process listens on loopback only, unlike an install from
# the chart or config/, whose API takes Kubernetes tokens.
"$bin/chitty-operator" run \
  --namespace "$namespace" \
  --http-addr "$http_addr" \
  --api-auth none \
  --health-url-override "http://$sim_addr" \
  --probe-allow-cidr 127.0.0.1/32 \
  --chittyid-url "http://$sim_addr" --chittyid-token sim-token \
  --registry-url "http://$sim_addr" --registry-token sim-token \
  --notify-webhook "contextconsciousness=http://$sim_addr/notify/contextconsciousness"
