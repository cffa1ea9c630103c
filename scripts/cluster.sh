#!/usr/bin/env bash
# Local Kubernetes control plane for development and tests: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and the kwok controller run as local processes (kwokctl's
# `binary` runtime), with fake kwok Nodes on which Pods become Running/Ready and Job Pods Succeed.
# Only binaries built by hack/build-tools.sh are used; nothing is downloaded.
#
#   scripts/cluster.sh up          build tools (cached), create the cluster if it is not up and healthy,
#                                  wait for the apiserver and the nodes to be Ready, install the
#                                  Gateway API CRDs (standard channel, pinned in hack/tools/gateway-api)
#   scripts/cluster.sh env         print `export KUBECONFIG=...` and `export PATH=<tools>:$PATH`;
#                                  use as: eval "$(scripts/cluster.sh env)"
#   scripts/cluster.sh down        stop and delete the cluster
#   scripts/cluster.sh status      show components, apiserver readiness and nodes; exit 1 if unhealthy
#   scripts/cluster.sh audit-log   print the path of the apiserver audit log (JSON lines)
#   scripts/cluster.sh kubeconfig  print the path of the admin kubeconfig
#
# Environment (all optional):
#   CHITTY_TOOLS_CACHE    tool cache, as in hack/build-tools.sh (default ~/.cache/chitty-operator/tools)
#   CHITTY_KWOK_WORKDIR   kwokctl's work dir (default: the tool cache's sibling `kwok`)
#   CHITTY_CLUSTER_NAME   kwok cluster name (default chitty)
#   CHITTY_NODES          number of fake nodes (default 10; kwok nodes hold 110 pods each)
#   CHITTY_APISERVER_PORT fixed apiserver port (default: a free port chosen by kwokctl at creation)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Must match hack/build-tools.sh's cache, so `env`/`status`/`down` can find the tools without building.
cache=${CHITTY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chitty-operator/tools}
bin=$cache/bin
kwok_workdir=${CHITTY_KWOK_WORKDIR:-$(dirname "$cache")/kwok}
name=${CHITTY_CLUSTER_NAME:-chitty}
nodes=${CHITTY_NODES:-10}
apiserver_port=${CHITTY_APISERVER_PORT:-0}
audit_policy=$repo/hack/audit-policy.yaml
kwokctl_config=$repo/hack/kwokctl.yaml # static kwokctl options (bind address)
# kwok Stages: kwok's defaults (extracted by hack/build-tools.sh) plus ours. Given any Stage, kwokctl
# writes no defaults into the cluster, so both are passed.
default_stages=$cache/share/kwok-default-stages.yaml
kwok_stages=$repo/hack/kwok-stages.yaml
# The Gateway API CRDs of the pinned release (extracted by hack/build-tools.sh), installed on `up`.
gateway_api_crds=$cache/share/gateway-api-crds.yaml

# Layout of kwokctl's binary runtime (sigs.k8s.io/kwok v0.7.0, pkg/kwokctl/runtime).
workdir=$kwok_workdir/clusters/$name
kubeconfig=$workdir/kubeconfig.yaml
audit_log=$workdir/logs/audit.log
stamp=$workdir/chitty-stamp

log() { echo "cluster.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# kwokctl with every setting pinned to local files. Options not given here default to download URLs,
# which fail without network. PATH puts our kubectl first because kwokctl runs the first `kubectl`
# on PATH (for its readiness checks) before falling back to KWOK_KUBECTL_BINARY; a system kubectl
# of another version must not be picked up.
kwokctl() {
  [ -x "$bin/kwokctl" ] || die "$bin/kwokctl missing; run: scripts/cluster.sh up"
  env PATH="$bin:$PATH" \
    KWOK_WORKDIR="$kwok_workdir" \
    KWOK_RUNTIME=binary \
    KWOK_KUBE_VERSION="$(kube_version)" \
    KWOK_KUBE_BINARY_PREFIX="$bin" \
    KWOK_KUBE_APISERVER_BINARY="$(readlink -f "$bin/kube-apiserver")" \
    KWOK_KUBE_CONTROLLER_MANAGER_BINARY="$(readlink -f "$bin/kube-controller-manager")" \
    KWOK_KUBE_SCHEDULER_BINARY="$(readlink -f "$bin/kube-scheduler")" \
    KWOK_KUBECTL_BINARY="$(readlink -f "$bin/kubectl")" \
    KWOK_ETCD_BINARY="$(readlink -f "$bin/etcd")" \
    KWOK_CONTROLLER_BINARY="$(readlink -f "$bin/kwok")" \
    "$bin/kwokctl" --config "$kwokctl_config" --name "$name" "$@" 9>&-
}

kube_version() { awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$repo/hack/tools/kubernetes/go.mod"; }

kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# Identifies what the running cluster was created from: the binaries (resolved to their versioned
# cache dirs), the audit policy, the kwokctl options, the kwok Stages and the settings above. A change
# means the cluster is recreated.
config_stamp() {
  local b
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl; do
    readlink -f "$bin/$b"
  done
  sha256sum <"$audit_policy"
  sha256sum <"$kwokctl_config"
  sha256sum <"$default_stages"
  sha256sum <"$kwok_stages"
  echo "nodes=$nodes port=$apiserver_port"
}

# is_component NAME PID: PID is alive and runs this cluster's NAME binary ($workdir/bin/NAME links to
# the tool cache). kwokctl stores bare pids, so after a reboot a pid file may name an unrelated
# process, which must never be trusted or killed.
is_component() {
  local exe
  exe=$(readlink "/proc/$2/exe" 2>/dev/null) || return 1
  [ "$exe" = "$(readlink -f "$workdir/bin/$1")" ]
}

# Prints "component pid" for each component of the cluster that is running (pid files are named
# after the components).
live_components() {
  local f c pid
  for f in "$workdir"/pids/*.pid; do
    [ -e "$f" ] || continue
    c=$(basename "$f" .pid) pid=$(cat "$f")
    if is_component "$c" "$pid"; then echo "$c $pid"; fi
  done
}

expected_components() { # as recorded in the cluster's kwok.yaml; pid files are named after them
  kwokctl --v WARN get components -o name 2>/dev/null
}

# Removes pid files that do not point at a live component, so that kwokctl's stop/delete cannot kill
# a recycled pid.
prune_stale_pids() {
  local f
  for f in "$workdir"/pids/*.pid; do
    [ -e "$f" ] || continue
    is_component "$(basename "$f" .pid)" "$(cat "$f")" || rm -f "$f"
  done
}

ready_nodes() {
  kubectl get nodes --request-timeout=5s \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{range .status.conditions[?(@.type=="Ready")]}{.status}{end}{"\n"}{end}' \
    2>/dev/null | awk '$2=="True"' | wc -l
}

# Healthy: created from the current stamp, every component process alive, apiserver /readyz ok,
# and the requested number of nodes Ready. Prints the reason when not healthy.
healthy() {
  if ! [ -f "$kubeconfig" ] || ! [ -f "$workdir/kwok.yaml" ]; then echo "no cluster"; return 1; fi
  if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$(config_stamp 2>/dev/null)" ]; then
    echo "created from other binaries, audit policy, kwok config or settings"; return 1
  fi
  local want c live
  live=$(live_components | awk '{print $1}')
  want=$(expected_components)
  [ -n "$want" ] || { echo "no components in $workdir/kwok.yaml"; return 1; }
  for c in $want; do
    grep -qx "$c" <<<"$live" || { echo "component $c is not running"; return 1; }
  done
  [ "$(kubectl get --raw /readyz --request-timeout=5s 2>/dev/null)" = ok ] ||
    { echo "apiserver not ready"; return 1; }
  [ "$(ready_nodes)" -ge "$nodes" ] || { echo "fewer than $nodes nodes Ready"; return 1; }
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${timeout}s waiting for $what"
    sleep 0.5
  done
}

apiserver_ready() { [ "$(kubectl get --raw /readyz --request-timeout=5s)" = ok ]; }
nodes_ready() { [ "$(ready_nodes)" -ge "$nodes" ]; }
# kube-controller-manager's serviceaccount controller is up once `default` has its ServiceAccount;
# Pods cannot be admitted in a namespace before that.
default_sa() { kubectl -n default get serviceaccount default --request-timeout=5s; }

# Serializes `up` and `down` (e.g. parallel test binaries each calling `up`), including the tool
# build, which must not run twice at once. The lock is on fd 9, which the kwokctl wrapper closes:
# the components kwokctl starts would otherwise inherit it and hold the lock for their lifetime.
lock() {
  mkdir -p "$kwok_workdir"
  exec 9>"$kwok_workdir/$name.lock"
  flock 9
}

delete_cluster() {
  [ -d "$workdir" ] || return 0
  prune_stale_pids
  if [ -x "$bin/kwokctl" ]; then
    # --kubeconfig: kwokctl would otherwise remove a context from ~/.kube/config; point it at a
    # scratch file instead (an empty value is refused by `delete`).
    kwokctl --v WARN delete cluster --kubeconfig "$kwok_workdir/scratch-kubeconfig" >&2 || true
  fi
  # Whatever kwokctl did not stop (no kwokctl binary, or a workdir without its kwok.yaml after an
  # interrupted creation, which kwokctl treats as "no cluster").
  local c pid
  while read -r c pid; do
    kill -9 "$pid" 2>/dev/null || true
  done < <(live_components)
  rm -rf "$workdir" "$kwok_workdir/scratch-kubeconfig"
}

# Server-side apply is idempotent: a cluster already up gets the pinned CRDs too (e.g. after the pin moves).
install_gateway_api() {
  kubectl apply --server-side --force-conflicts -f "$gateway_api_crds" >/dev/null
  kubectl wait --for=condition=Established --timeout=60s \
    crd/httproutes.gateway.networking.k8s.io crd/gateways.gateway.networking.k8s.io >/dev/null
}

cmd_up() {
  local start=$SECONDS
  lock
  # hack/build-tools.sh prints the bin dir; everything else it says goes to stderr.
  local built
  built=$("$repo/hack/build-tools.sh")
  [ "$built" = "$bin" ] || die "hack/build-tools.sh built into $built, expected $bin (CHITTY_TOOLS_CACHE mismatch?)"

  local why
  if why=$(healthy); then
    install_gateway_api
    log "cluster $name already up ($((SECONDS - start)) s)"
    return 0
  fi
  if [ -d "$workdir" ]; then
    log "recreating cluster $name: $why"
    delete_cluster
  fi

  log "creating cluster $name (Kubernetes $(kube_version)) in $workdir"
  # --kubeconfig "": don't add a context to ~/.kube/config; use the cluster's own kubeconfig.yaml.
  # The Stages given here (kwok's defaults: node-initialize, node-heartbeat-with-lease, pod-ready,
  # pod-complete, pod-delete; and hack/kwok-stages.yaml's) are written into the cluster's kwok.yaml,
  # which the kwok controller reads.
  kwokctl create cluster \
    --config "$default_stages" \
    --config "$kwok_stages" \
    --runtime binary \
    --kube-apiserver-port "$apiserver_port" \
    --kube-audit-policy "$audit_policy" \
    --kubeconfig "" \
    --wait 2m >&2
  config_stamp >"$stamp"

  wait_for 120 "the apiserver to be ready" apiserver_ready
  # Fake nodes named node-000000, node-000001, ...; scaling to N is idempotent.
  kwokctl --v WARN scale node --replicas "$nodes" >&2
  wait_for 120 "$nodes node(s) to be Ready" nodes_ready
  wait_for 120 "the default ServiceAccount" default_sa
  install_gateway_api
  log "cluster $name up in $((SECONDS - start)) s; kubeconfig $kubeconfig"
}

cmd_down() {
  lock
  if [ -d "$workdir" ]; then
    delete_cluster
    log "cluster $name deleted"
  else
    log "cluster $name does not exist"
  fi
}

cmd_env() {
  printf 'export KUBECONFIG=%q\n' "$kubeconfig"
  # shellcheck disable=SC2016 # $PATH is for the eval-ing shell to expand
  printf 'export PATH=%q:"$PATH"\n' "$bin"
}

cmd_status() {
  local why rc=0
  echo "cluster:    $name"
  echo "workdir:    $workdir"
  echo "kubeconfig: $kubeconfig"
  echo "audit log:  $audit_log"
  if [ ! -d "$workdir" ]; then echo "state:      absent"; return 1; fi
  echo "components:"
  local c pid live
  live=$(live_components)
  for c in $(expected_components); do
    pid=$(awk -v c="$c" '$1==c {print $2}' <<<"$live")
    if [ -n "$pid" ]; then printf '  %-25s running (pid %s)\n' "$c" "$pid"; else printf '  %-25s stopped\n' "$c"; fi
  done
  if [ -x "$bin/kubectl" ] && [ -f "$kubeconfig" ]; then
    echo "server:     $(kubectl config view -o jsonpath='{.clusters[0].cluster.server}')"
    echo "readyz:     $(kubectl get --raw /readyz --request-timeout=5s 2>&1 | head -1)"
    kubectl get nodes --request-timeout=5s 2>&1 | sed 's/^/  /'
  fi
  if why=$(healthy); then echo "state:      healthy"; else echo "state:      unhealthy ($why)"; rc=1; fi
  return $rc
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  audit-log) echo "$audit_log" ;;
  kubeconfig) echo "$kubeconfig" ;;
  *) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2 ;;
esac
