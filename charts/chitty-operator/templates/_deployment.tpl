{{/*
One operator Deployment: the only one when shards is 1 (named as the release), else shard
`.shard` of `.shards` (named <fullname>-shard-<i>, selecting its own pods only).
*/}}
{{- define "chitty-operator.deployment" -}}
{{- $shard := .shard }}
{{- $shards := .shards }}
{{- with .root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "chitty-operator.fullname" . }}{{ if gt $shards 1 }}-shard-{{ $shard }}{{ end }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "chitty-operator.labels" . | nindent 4 }}
    app.kubernetes.io/component: controller
    {{- if gt $shards 1 }}
    chitty.cc/shard: {{ $shard | quote }}
    {{- end }}
spec:
  replicas: {{ .Values.replicaCount }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "chitty-operator.selectorLabels" . | nindent 6 }}
      {{- if gt $shards 1 }}
      chitty.cc/shard: {{ $shard | quote }}
      {{- end }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "chitty-operator.selectorLabels" . | nindent 8 }}
        app.kubernetes.io/component: controller
        {{- if gt $shards 1 }}
        chitty.cc/shard: {{ $shard | quote }}
        {{- end }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "chitty-operator.serviceAccountName" . }}
      automountServiceAccountToken: true
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      containers:
        - name: operator
          image: {{ include "chitty-operator.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          args: ["run"]
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: CHITTY_HTTP_ADDR
              value: {{ printf "0.0.0.0:%d" (int .Values.httpPort) | quote }}
            {{- with .Values.watchNamespace }}
            - name: CHITTY_NAMESPACE
              value: {{ . | quote }}
            {{- end }}
            - name: CHITTY_LEADER_ELECT
              value: {{ .Values.leaderElection.enabled | quote }}
            {{- if gt $shards 1 }}
            # This Deployment's share of the ChittyServices (docs/sharding.md).
            - name: CHITTY_SHARD_COUNT
              value: {{ $shards | quote }}
            - name: CHITTY_SHARD_INDEX
              value: {{ $shard | quote }}
            - name: CHITTY_SHARD_TAKEOVER_AFTER
              value: {{ .Values.sharding.takeoverAfter | quote }}
            {{- end }}
            {{- if .Values.leaderElection.enabled }}
            - name: CHITTY_LEASE_NAME
              value: {{ include "chitty-operator.leaseName" . | quote }}
            - name: CHITTY_LEASE_NAMESPACE
              value: {{ .Release.Namespace | quote }}
            - name: CHITTY_LEASE_DURATION
              value: {{ .Values.leaderElection.leaseDuration | quote }}
            - name: CHITTY_LEASE_RENEW_MARGIN
              value: {{ .Values.leaderElection.renewMargin | quote }}
            # A standby forwards reads only to a leader pod with these labels (selectorLabels).
            - name: CHITTY_PEER_SELECTOR
              value: {{ printf "app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s" (include "chitty-operator.name" .) .Release.Name | quote }}
            {{- end }}
            {{- with .Values.operator }}
            - name: CHITTY_LOG_FORMAT
              value: {{ .logFormat | quote }}
            {{- with .logLevel }}
            - name: RUST_LOG
              value: {{ . | quote }}
            {{- end }}
            - name: CHITTY_CONCURRENCY
              value: {{ .concurrency | quote }}
            {{- with .healthUrlOverride }}
            - name: CHITTY_HEALTH_URL_OVERRIDE
              value: {{ . | quote }}
            {{- end }}
            - name: CHITTY_ROLLBACK_WINDOW
              value: {{ .rollbackWindow | quote }}
            {{- with .advisor }}
            - name: CHITTY_ADVISOR_ABORT_AFTER_FAILURES
              value: {{ .abortAfterFailures | quote }}
            - name: CHITTY_ADVISOR_MIN_ECOSYSTEM_HEALTH
              value: {{ .minEcosystemHealth | quote }}
            - name: CHITTY_ADVISOR_MAX_ROLLOUTS_IN_PROGRESS
              value: {{ .maxRolloutsInProgress | quote }}
            - name: CHITTY_ADVISOR_RECENT_DEPENDENCY
              value: {{ .recentDependency | quote }}
            - name: CHITTY_ADVISOR_RECENT_FAILURE
              value: {{ .recentFailure | quote }}
            - name: CHITTY_ADVISOR_FAILURE_RATE
              value: {{ .failureRate | quote }}
            - name: CHITTY_ADVISOR_CANARY_PERCENT
              value: {{ .canaryPercent | quote }}
            - name: CHITTY_ADVISOR_CANARY_MONITOR
              value: {{ .canaryMonitor | quote }}
            - name: CHITTY_ADVISOR_RECHECK
              value: {{ .recheck | quote }}
            {{- with .windows }}
            - name: CHITTY_DEPLOY_WINDOWS
              value: {{ join ";" . | quote }}
            {{- end }}
            - name: CHITTY_REQUIRE_APPROVAL_IN_PRODUCTION
              value: {{ .requireApprovalInProduction | quote }}
            {{- end }}
            - name: CHITTY_PROBE_CONCURRENCY
              value: {{ .probes.concurrency | quote }}
            - name: CHITTY_PROBE_BUDGET
              value: {{ .probes.budget | quote }}
            {{- with .probes.allowCidrs }}
            - name: CHITTY_PROBE_ALLOW_CIDRS
              value: {{ join "," . | quote }}
            {{- end }}
            - name: CHITTY_BUILD_REGISTRY
              value: {{ .build.registry | quote }}
            - name: CHITTY_BUILDER_IMAGE
              value: {{ .build.builderImage | quote }}
            - name: CHITTY_IMAGE_BUILDER
              value: {{ .build.imageBuilder | quote }}
            - name: CHITTY_WRANGLER_VERSION
              value: {{ .build.wranglerVersion | quote }}
            - name: CHITTY_INSTALL_COMMAND
              value: {{ .build.installCommand | quote }}
            - name: CHITTY_TEST_COMMAND
              value: {{ .build.testCommand | quote }}
            - name: CHITTY_BUILD_TIMEOUT_SECONDS
              value: {{ .build.timeoutSeconds | quote }}
            - name: CHITTY_BUILDER_RUN_AS_USER
              value: {{ .build.runAsUser | quote }}
            - name: CHITTY_BUILD_CPU_REQUEST
              value: {{ .build.cpuRequest | quote }}
            - name: CHITTY_BUILD_CPU_LIMIT
              value: {{ .build.cpuLimit | quote }}
            - name: CHITTY_BUILD_MEMORY_REQUEST
              value: {{ .build.memoryRequest | quote }}
            - name: CHITTY_BUILD_MEMORY_LIMIT
              value: {{ .build.memoryLimit | quote }}
            - name: CHITTY_ECOSYSTEM_TIMEOUT
              value: {{ .ecosystemTimeout | quote }}
            {{- with .chittyId.url }}
            - name: CHITTY_ID_URL
              value: {{ . | quote }}
            {{- end }}
            {{- if .chittyId.tokenSecret.name }}
            {{- include "chitty-operator.secretEnv" (dict "env" "CHITTY_ID_TOKEN" "ref" .chittyId.tokenSecret) | nindent 12 }}
            {{- end }}
            - name: CHITTY_DEFAULT_JURISDICTION
              value: {{ .chittyId.defaultJurisdiction | quote }}
            - name: CHITTY_DEFAULT_REGION
              value: {{ .chittyId.defaultRegion | quote }}
            - name: CHITTY_MINT_RATE_PER_MINUTE
              value: {{ .chittyId.mintRatePerMinute | quote }}
            - name: CHITTY_MINT_BURST
              value: {{ .chittyId.mintBurst | quote }}
            {{- with .registry.url }}
            - name: CHITTY_REGISTRY_URL
              value: {{ . | quote }}
            {{- end }}
            {{- if .registry.tokenSecret.name }}
            {{- include "chitty-operator.secretEnv" (dict "env" "CHITTY_REGISTRY_TOKEN" "ref" .registry.tokenSecret) | nindent 12 }}
            {{- end }}
            - name: CHITTY_REGISTRY_RETIRE_TIMEOUT
              value: {{ .registry.retireTimeout | quote }}
            {{- with .notify.webhooks }}
            - name: CHITTY_NOTIFY_WEBHOOKS
              value: {{ $hooks := list }}{{ range . }}{{ $hooks = append $hooks (printf "%s=%s" .name .url) }}{{ end }}{{ join "," $hooks | quote }}
            {{- end }}
            {{- if .notify.tokenSecret.name }}
            {{- include "chitty-operator.secretEnv" (dict "env" "CHITTY_NOTIFY_TOKEN" "ref" .notify.tokenSecret) | nindent 12 }}
            {{- end }}
            - name: CHITTY_ROUTE_POLICY
              value: {{ .routing.policy | quote }}
            {{- with .routing.ingressClass }}
            - name: CHITTY_INGRESS_CLASS
              value: {{ . | quote }}
            {{- end }}
            {{- with .routing.certManagerIssuer }}
            - name: CHITTY_CERT_MANAGER_ISSUER
              value: {{ . | quote }}
            {{- end }}
            - name: CHITTY_ROUTE_BACKEND
              value: {{ .routing.backend | quote }}
            {{- if eq .routing.backend "gateway" }}
            - name: CHITTY_GATEWAY
              value: {{ required "operator.routing.gateway (namespace/name of the Gateway) is required with routing.backend: gateway" .routing.gateway | quote }}
            {{- end }}
            - name: CHITTY_INGRESS_CONTROLLER
              value: {{ .routing.ingressController | quote }}
            {{- with .routing.reservations }}
            - name: CHITTY_ROUTE_RESERVATIONS
              value: {{ $entries := list }}{{ range . }}{{ $entries = append $entries (printf "%s=%s" .host (join "," .namespaces)) }}{{ end }}{{ join ";" $entries | quote }}
            {{- end }}
            - name: CHITTY_API_AUTH
              value: {{ .api.auth | quote }}
            {{- if .api.tokenSecret.name }}
            - name: CHITTY_API_TOKEN_FILE
              value: /var/run/secrets/chitty/api/token
            {{- end }}
            {{- with .api.publicUrl }}
            - name: CHITTY_PUBLIC_URL
              value: {{ . | quote }}
            {{- end }}
            {{- with .advisor.model }}
            {{- if .url }}
            - name: CHITTY_ADVISOR_MODEL_URL
              value: {{ .url | quote }}
            - name: CHITTY_ADVISOR_MODEL
              value: {{ .model | quote }}
            - name: CHITTY_ADVISOR_MODEL_TIMEOUT
              value: {{ .timeout | quote }}
            {{- end }}
            {{- if .tokenSecret.name }}
            {{- include "chitty-operator.secretEnv" (dict "env" "CHITTY_ADVISOR_MODEL_TOKEN" "ref" .tokenSecret) | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- with .extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- end }}
          ports:
            - name: http
              containerPort: {{ .Values.httpPort }}
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 5
            periodSeconds: 10
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            failureThreshold: 3
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          {{- if .Values.operator.api.tokenSecret.name }}
          volumeMounts:
            - name: api-token
              mountPath: /var/run/secrets/chitty/api
              readOnly: true
          {{- end }}
      {{- if .Values.operator.api.tokenSecret.name }}
      volumes:
        # A file rather than an env var: the operator re-reads it, so rotation needs no restart.
        - name: api-token
          secret:
            secretName: {{ .Values.operator.api.tokenSecret.name }}
            defaultMode: 0440
            items:
              - key: {{ .Values.operator.api.tokenSecret.key }}
                path: token
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      topologySpreadConstraints:
        {{- if .Values.topologySpreadConstraints }}
        {{- toYaml .Values.topologySpreadConstraints | nindent 8 }}
        {{- else }}
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "chitty-operator.selectorLabels" . | nindent 14 }}
        {{- end }}
{{- end }}
{{- end }}
