{{/*
What the controllers do, and nothing more. Kept equal to config/rbac/role.yaml by
tests/packaging.rs, and checked against a live cluster by tests/rbac.rs.
*/}}
{{- define "chitty-operator.rules" -}}
# The three kinds: watched, ChittyDeployments made and pruned per revision, RouteClaims per route.
- apiGroups: ["chitty.cc"]
  resources: ["chittyservices"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["chitty.cc"]
  resources: ["chittydeployments", "routeclaims"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["chitty.cc"]
  resources: ["chittyservices/status", "chittydeployments/status", "routeclaims/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement runs.
- apiGroups: ["chitty.cc"]
  resources: ["chittyservices/finalizers", "chittydeployments/finalizers", "routeclaims/finalizers"]
  verbs: ["update"]
# The workloads the operator applies (server-side apply: create + patch), watches and repairs.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# The autoscaler of a service with spec.autoscaling (kept converged like its Deployment).
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# A service's routes in gateway mode (routing.backend: gateway).
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Which build sub-step a build Job's pod is in.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# The operator writes events.k8s.io/v1 Events (patch: repeated events become series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
ChittyDomains and namespaces are cluster-scoped: a ClusterRole even when one namespace is
watched. The operator reads domains and writes their status, and reads namespace labels (metadata
only) for domains that select namespaces by label.
*/}}
{{- define "chitty-operator.domainRules" -}}
- apiGroups: ["chitty.cc"]
  resources: ["chittydomains"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["chitty.cc"]
  resources: ["chittydomains/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- end }}

{{/*
With `operator.api.auth: kubernetes`, the read API checks its callers' bearer tokens and where
they may list ChittyServices. Both reviews are cluster-scoped: a ClusterRole even when one
namespace is watched.
*/}}
{{- define "chitty-operator.reviewRules" -}}
- apiGroups: ["authentication.k8s.io"]
  resources: ["tokenreviews"]
  verbs: ["create"]
- apiGroups: ["authorization.k8s.io"]
  resources: ["subjectaccessreviews"]
  verbs: ["create"]
{{- end }}

{{/* The leader Lease, in the release namespace only, and only the one named; the replicas' pods there. */}}
{{- define "chitty-operator.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  {{- $lease := include "chitty-operator.leaseName" . }}
  {{- $names := list $lease }}
  {{- if gt (int .Values.shards) 1 }}
  {{- /* Each shard's Lease (any shard may take another over) and the route rule's. */}}
  {{- range $shard := until (int .Values.shards) }}
  {{- $names = append $names (printf "%s-shard-%d" $lease $shard) }}
  {{- end }}
  {{- $names = append $names (printf "%s-routes" $lease) }}
  {{- end }}
  resourceNames: [{{ range $i, $n := $names }}{{ if $i }}, {{ end }}{{ $n | quote }}{{ end }}]
  verbs: ["get", "patch"]
# A standby looks up the Lease holder's pod (labels, readiness, podIP) to forward reads to it.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get"]
{{- end }}
