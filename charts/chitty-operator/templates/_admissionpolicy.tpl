{{/*
The spec of the operator's ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1). It binds
only requests made as the operator's ServiceAccount ($.account, a full username) and holds every
Deployment and Job it creates or updates to the essentials of the `restricted` Pod Security
Standard, in the namespaces it serves ($.namespaces; empty: any). One exception, explicit: in a Job
labelled chitty.cc/build-job=true (the image build), the container named `image` (kaniko, which
must run as root) need only meet `baseline`. config/policy/ carries the same spec for kustomize;
tests/packaging.rs keeps the two equal.
*/}}
{{- define "chitty-operator.admissionPolicySpec" -}}
failurePolicy: Fail
matchConstraints:
  resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["*"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
    - apiGroups: ["batch"]
      apiVersions: ["*"]
      operations: ["CREATE", "UPDATE"]
      resources: ["jobs"]
matchConditions:
  - name: the-operator
    expression: request.userInfo.username == {{ .account | squote }}
variables:
  - name: pod
    expression: object.spec.template.spec
  - name: buildJob
    expression: >-
      request.kind.kind == 'Job' && has(object.metadata.labels) &&
      object.metadata.labels[?'chitty.cc/build-job'].orValue('') == 'true'
  - name: containers
    expression: variables.pod.containers + variables.pod.?initContainers.orValue([])
  - name: restrictedContainers
    expression: >-
      variables.containers.filter(c, !(variables.buildJob && c.name == 'image'))
validations:
{{- with .namespaces }}
  - expression: request.namespace in {{ toJson . | replace "\"" "'" }}
    message: "the operator may write Deployments and Jobs only in the namespaces it serves ({{ join ", " . }})"
    reason: Forbidden
{{- end }}
  - expression: >-
      !variables.pod.?hostNetwork.orValue(false) && !variables.pod.?hostPID.orValue(false) &&
      !variables.pod.?hostIPC.orValue(false)
    message: "pod security (operator): hostNetwork, hostPID and hostIPC are not allowed"
    reason: Forbidden
  - expression: "!variables.pod.?volumes.orValue([]).exists(v, has(v.hostPath))"
    message: "pod security (operator): hostPath volumes are not allowed"
    reason: Forbidden
  - expression: >-
      variables.containers.all(c, !c.?securityContext.?privileged.orValue(false) &&
      c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))
    message: "pod security (operator): privileged containers and host ports are not allowed"
    reason: Forbidden
  - expression: >-
      variables.containers.all(c, c.?securityContext.?seccompProfile.?type.orValue(
      variables.pod.?securityContext.?seccompProfile.?type.orValue('')) != 'Unconfined')
    message: "pod security (operator): seccompProfile Unconfined is not allowed"
    reason: Forbidden
  - expression: >-
      variables.containers.all(c, c.?securityContext.?capabilities.?add.orValue([]).all(a, a in
      ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD',
      'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']))
    message: "pod security (operator): capabilities beyond the baseline set may not be added"
    reason: Forbidden
  - expression: >-
      variables.restrictedContainers.all(c, c.?securityContext.?runAsNonRoot.orValue(
      variables.pod.?securityContext.?runAsNonRoot.orValue(false)) &&
      c.?securityContext.?runAsUser.orValue(variables.pod.?securityContext.?runAsUser.orValue(1)) != 0)
    message: "pod security (operator, restricted): every container must run as non-root (runAsNonRoot: true, runAsUser not 0)"
    reason: Forbidden
  - expression: >-
      variables.restrictedContainers.all(c, c.?securityContext.?allowPrivilegeEscalation.orValue(true) == false)
    message: "pod security (operator, restricted): every container must set allowPrivilegeEscalation: false"
    reason: Forbidden
  - expression: >-
      variables.restrictedContainers.all(c, 'ALL' in c.?securityContext.?capabilities.?drop.orValue([]) &&
      c.?securityContext.?capabilities.?add.orValue([]).all(a, a == 'NET_BIND_SERVICE'))
    message: "pod security (operator, restricted): every container must drop ALL capabilities (and add at most NET_BIND_SERVICE)"
    reason: Forbidden
  - expression: >-
      variables.restrictedContainers.all(c, c.?securityContext.?seccompProfile.?type.orValue(
      variables.pod.?securityContext.?seccompProfile.?type.orValue('')) in ['RuntimeDefault', 'Localhost'])
    message: "pod security (operator, restricted): every container must have seccompProfile RuntimeDefault or Localhost"
    reason: Forbidden
{{- end }}
