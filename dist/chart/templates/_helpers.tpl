{{/* Labels on every object. Names are fixed (partnergov-...), as in config/default: one install per cluster. */}}
{{- define "partnergov.labels" -}}
app.kubernetes.io/name: partnergov
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The manager's ServiceAccount as an RBAC subject. */}}
{{- define "partnergov.subject" -}}
- kind: ServiceAccount
  name: partnergov-controller-manager
  namespace: {{ .Release.Namespace }}
{{- end }}
