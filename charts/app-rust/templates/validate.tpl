{{- /*
Cross-value checks the JSON schema cannot express. Included by the StatefulSet template so they
run on every install, upgrade and template.
*/ -}}
{{- define "app-rust.validateValues" -}}
{{- $shutdownMs := int (.Values.config.shutdownTimeoutMs | default 10000) -}}
{{- $delayMs := int (.Values.config.shutdownDelayMs | default 0) -}}
{{- if le (mul (int .Values.terminationGracePeriodSeconds) 1000) (add $delayMs $shutdownMs) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d s) must exceed config.shutdownDelayMs + config.shutdownTimeoutMs (%d + %d ms), or the kubelet kills replicas while they still serve or drain requests" (int .Values.terminationGracePeriodSeconds) $delayMs $shutdownMs) -}}
{{- end -}}
{{- if and .Values.hooks.postInstall.enabled (le (mul (int .Values.hooks.activeDeadlineSeconds) 1000) (int .Values.hooks.postInstall.waitMs)) -}}
{{- fail (printf "hooks.activeDeadlineSeconds (%d s) must exceed hooks.postInstall.waitMs (%d ms), or the Job is killed before it reports" (int .Values.hooks.activeDeadlineSeconds) (int .Values.hooks.postInstall.waitMs)) -}}
{{- end -}}
{{- if and .Values.persistence.enabled (has "ReadWriteOncePod" .Values.persistence.accessModes) (gt (len .Values.persistence.accessModes) 1) -}}
{{- fail "persistence.accessModes: ReadWriteOncePod cannot be combined with other access modes" -}}
{{- end -}}
{{- $rolling := .Values.updateStrategy.rollingUpdate | default dict -}}
{{- if and (eq .Values.updateStrategy.type "RollingUpdate") (not (kindIs "invalid" $rolling.maxUnavailable)) (ne (include "app-rust.maxUnavailableGateOn" .) "true") -}}
{{- fail (printf "updateStrategy.rollingUpdate.maxUnavailable has no effect on Kubernetes %s: the MaxUnavailableStatefulSet feature gate is off by default there (on in 1.35.0-1.35.3 and from 1.37), and the API server would drop the field silently. Remove it, or set kubernetesFeatureGates.maxUnavailableStatefulSet=true if your cluster turns the gate on" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- if and .Values.metrics.prometheusRule.enabled (not .Values.metrics.prometheusRule.runbookBaseUrl) -}}
{{- fail "metrics.prometheusRule.runbookBaseUrl is required when metrics.prometheusRule.enabled is true: the URL where your copy of docs/alerts.md is published (each alert links to its section there)" -}}
{{- end -}}
{{- if and .Values.vault.enabled (not .Values.vault.role) -}}
{{- fail "vault.role is required when vault.enabled is true" -}}
{{- end -}}
{{- end -}}
