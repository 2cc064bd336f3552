{{/*
Chart name, for the app.kubernetes.io/name label.
*/}}
{{- define "app-rust.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fullname: the release name if it already contains the chart name, else "<release>-<chart>".

It is capped at 52 characters, not the usual 63, because it names the StatefulSet: the
StatefulSet controller labels every pod with
  controller-revision-hash: <statefulset name>-<revision hash>
where the hash is up to 10 characters, and a label value may not exceed 63 characters
(52 + 1 + 10 = 63). A longer StatefulSet name is accepted by the API server, but its pods are
never created (kubernetes/kubernetes#64023). Every other name built from the fullname
("-headless", pod "<fullname>-<ordinal>", PVC "data-<fullname>-<ordinal>") then fits too.
*/}}
{{- define "app-rust.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A name derived from the fullname plus a suffix, within the 63-character object name limit.
Usage: include "app-rust.suffixedName" (list . "headless")
*/}}
{{- define "app-rust.suffixedName" -}}
{{- $ctx := index . 0 -}}
{{- printf "%s-%s" (include "app-rust.fullname" $ctx) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "app-rust.headlessServiceName" -}}
{{- include "app-rust.suffixedName" (list . "headless") -}}
{{- end -}}

{{- define "app-rust.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "app-rust.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels. They are part of the StatefulSet's immutable selector, so they are only the
name and the instance: never the chart version, the app version or anything from values that
could change on upgrade.
*/}}
{{- define "app-rust.selectorLabels" -}}
app.kubernetes.io/name: {{ include "app-rust.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Standard labels of every object (selector labels plus version information).
*/}}
{{- define "app-rust.labels" -}}
{{ include "app-rust.selectorLabels" . }}
helm.sh/chart: {{ include "app-rust.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: app-rust
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
metadata.annotations of an object: commonAnnotations merged with the object's own.
Usage: include "app-rust.annotations" (list . .Values.service.annotations)
*/}}
{{- define "app-rust.annotations" -}}
{{- $ctx := index . 0 -}}
{{- $all := merge (deepCopy (index . 1 | default dict)) (deepCopy ($ctx.Values.commonAnnotations | default dict)) -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "app-rust.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "app-rust.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The image reference: [registry/]repository(@digest|:tag). The default is exactly
"app-rust:0.1.0", the image built locally by `minikube image build -t app-rust:0.1.0 .`.
*/}}
{{- define "app-rust.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/*
The content of config.json: files/config.json with .Values.config merged over it, so that
values really drive the file the app reads.
*/}}
{{- define "app-rust.configJson" -}}
{{- $file := .Files.Get "files/config.json" | fromJson -}}
{{- $values := deepCopy (.Values.config | default dict) -}}
{{- range $k, $v := $values }}{{ if kindIs "invalid" $v }}{{ $_ := unset $values $k }}{{ end }}{{ end -}}
{{- mustMergeOverwrite $file $values | toPrettyJson -}}
{{- end -}}

{{/*
The pod-template annotation that carries the configuration of a revision. A downwardAPI
volume turns it into the file the app reads, so a pod of revision N reads revision N's
configuration whatever restarts during a partition canary, and a rollback of the template
rolls the configuration back with it.
*/}}
{{- define "app-rust.revisionConfigAnnotation" -}}
app-rust/config.json
{{- end -}}

{{- define "app-rust.secretName" -}}
{{- include "app-rust.fullname" . -}}
{{- end -}}

{{/*
The optional Secret exposed as environment variables: one EnvVar per key of
secret.stringData, read from the Secret named by the second argument (the release's Secret for
the replicas, the hook's own copy for the pre-install hook). Rendered as a list to append to a
container's env. Usage: include "app-rust.secretEnv" (list . $secretName)
*/}}
{{- define "app-rust.secretEnv" -}}
{{- $ctx := index . 0 -}}
{{- $name := index . 1 -}}
{{- if $ctx.Values.secret.enabled }}
{{- range $key := keys $ctx.Values.secret.stringData | sortAlpha }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The environment that decides the app's effective configuration (CONTRACT.md): namespace, pod
IP, the data dir and the cluster view. Shared by the app container and the pre-install
check-config hook, so the hook validates what serve will run with. POD_NAME and CONFIG_FILE
are set by each user. Nothing here depends on replicaCount: scaling must not change the pod
template (a changed template is a new revision, and every replica would be restarted).
*/}}
{{- define "app-rust.configEnv" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: DATA_DIR
  value: /app/data
- name: APP_LISTEN
  value: {{ printf "0.0.0.0:%s" (include "app-rust.httpPort" .) | quote }}
- name: APP_PEER_SERVICE
  value: {{ include "app-rust.headlessServiceName" . | quote }}
- name: APP_CLUSTER_DOMAIN
  value: {{ .Values.clusterDomain | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Resource of the short-lived hook and test containers, and their hardened securityContexts.
*/}}
{{- define "app-rust.hookPodSpecCommon" -}}
restartPolicy: Never
automountServiceAccountToken: false
{{- with (include "app-rust.podScheduling" . | trim) }}
{{ . }}
{{- end }}
securityContext:
  {{- omit .Values.podSecurityContext "fsGroup" "fsGroupChangePolicy" | toYaml | nindent 2 }}
{{- end -}}

{{/*
HashiCorp Vault Agent Injector annotations: the agent logs in with the pod's ServiceAccount
(through the projected "vault-token" volume, since the default token is not mounted) and
renders vault.secretPath into /vault/secrets/<vault.fileName>.
*/}}
{{- define "app-rust.vaultAnnotations" -}}
vault.hashicorp.com/agent-inject: "true"
vault.hashicorp.com/role: {{ .Values.vault.role | quote }}
vault.hashicorp.com/agent-service-account-token-volume-name: vault-token
vault.hashicorp.com/agent-inject-secret-{{ .Values.vault.fileName }}: {{ .Values.vault.secretPath | quote }}
{{- with .Values.vault.template }}
vault.hashicorp.com/agent-inject-template-{{ $.Values.vault.fileName }}: {{ . | quote }}
{{- end }}
{{- if .Values.vault.prePopulateOnly }}
vault.hashicorp.com/agent-pre-populate-only: "true"
{{- end }}
{{- with .Values.vault.annotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Labels of the hook and test objects and their pods: the standard labels WITHOUT
app.kubernetes.io/name, plus app.kubernetes.io/component and app-rust/hook (which the
NetworkPolicies select). A hook or test pod must not match the
StatefulSet's selector: the Services would send client traffic to it, the PodDisruptionBudget
would count it, and the StatefulSet controller would adopt the ownerless test Pod as a replica.
Usage: include "app-rust.hookLabels" (list . "hook")
*/}}
{{- define "app-rust.hookLabels" -}}
{{- $labels := include "app-rust.labels" (index . 0) | fromYaml -}}
{{- $_ := unset $labels "app.kubernetes.io/name" -}}
{{- $_ := set $labels "app.kubernetes.io/component" (index . 1) -}}
{{- $_ := set $labels "app-rust/hook" "true" -}}
{{- toYaml $labels -}}
{{- end -}}

{{/*
The first ordinal of the StatefulSet: spec.ordinals.start, 0 when it is left out.
*/}}
{{- define "app-rust.ordinalStart" -}}
{{- int (.Values.ordinals.start | default 0) -}}
{{- end -}}

{{/*
The port the app listens on: the container port named http, from one value.
*/}}
{{- define "app-rust.httpPort" -}}
{{- int .Values.containerPorts.http -}}
{{- end -}}

{{/*
Scheduling fields of every pod the chart creates (the replicas, the hooks, the test pod).
*/}}
{{- define "app-rust.podScheduling" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
  {{- end }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
metadata.annotations of a hook or test object: the hook, its weight (none when empty), the
delete policy (default: before-hook-creation,hook-succeeded), and commonAnnotations.
Usage: include "app-rust.hookAnnotations" (list . "pre-install,pre-upgrade" "-5" [policy])
*/}}
{{- define "app-rust.hookAnnotations" -}}
{{- $ctx := index . 0 -}}
annotations:
  helm.sh/hook: {{ index . 1 }}
  {{- with index . 2 }}
  helm.sh/hook-weight: {{ . | quote }}
  {{- end }}
  helm.sh/hook-delete-policy: {{ if gt (len .) 3 }}{{ index . 3 }}{{ else }}before-hook-creation,hook-succeeded{{ end }}
  {{- with $ctx.Values.commonAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/*
stringData of the release's Secret and of the check-config hook's copy: secret.stringData,
sorted, every value a string.
*/}}
{{- define "app-rust.secretStringData" -}}
stringData:
  {{- range $key := keys .Values.secret.stringData | sortAlpha }}
  {{ $key }}: {{ index $.Values.secret.stringData $key | toString | quote }}
  {{- end }}
{{- end -}}

{{/*
"true" when the cluster's MaxUnavailableStatefulSet feature gate is on: what the user declares in
kubernetesFeatureGates, or else the default of the cluster's Kubernetes version. The gate was
alpha (off) in 1.24–1.34, beta and on in 1.35.0–1.35.3 (kubernetes#133153), off again from
1.35.4 and in 1.36 after a regression under Parallel pod management (kubernetes#137904,
#137926), and on from 1.37 with the fix (kubernetes#137666, #139466). Where the gate is off the
API server drops the field without a word, so the chart renders it only where it takes effect.
*/}}
{{- define "app-rust.maxUnavailableGateOn" -}}
{{- $declared := .Values.kubernetesFeatureGates.maxUnavailableStatefulSet -}}
{{- if kindIs "invalid" $declared -}}
{{- semverCompare ">=1.35.0-0 <1.35.4-0 || >=1.37.0-0" .Capabilities.KubeVersion.Version -}}
{{- else -}}
{{- $declared -}}
{{- end -}}
{{- end -}}

{{/*
PromQL label matchers (without braces) that select this release's series in Prometheus: by
default the `namespace` and `service` labels the Prometheus Operator gives the targets of the
chart's ServiceMonitor, which selects the headless Service.
*/}}
{{- define "app-rust.seriesSelector" -}}
{{- with .Values.metrics.prometheusRule.seriesSelector -}}
{{- . -}}
{{- else -}}
namespace={{ include "app-rust.namespace" . | quote }},service={{ include "app-rust.headlessServiceName" . | quote }}
{{- end -}}
{{- end -}}

{{/*
The labels of one alert: its severity and the extra labels every alert carries.
Usage: include "app-rust.alertLabels" (list .Values.metrics.prometheusRule.notReady.severity .Values.metrics.prometheusRule.alertLabels)
*/}}
{{- define "app-rust.alertLabels" -}}
severity: {{ index . 0 }}
{{- with index . 1 }}
{{ toYaml . }}
{{- end }}
{{- end -}}
