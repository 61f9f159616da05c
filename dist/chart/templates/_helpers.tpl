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

{{/* The records store, checked: crd or postgres. */}}
{{- define "partnergov.recordsStore" -}}
{{- $store := .Values.records.store -}}
{{- if not (has $store (list "crd" "postgres")) -}}
{{- fail (printf "records.store must be crd or postgres, not %q" (toString $store)) -}}
{{- end -}}
{{- if and (eq $store "postgres") (not .Values.records.database.secretName) -}}
{{- fail "records.database.secretName must name the Secret with the records database's DSN when records.store is postgres" -}}
{{- end -}}
{{- $store -}}
{{- end }}

{{/* The records server's ServiceAccount as an RBAC subject. */}}
{{- define "partnergov.recordsServerSubject" -}}
- kind: ServiceAccount
  name: partnergov-records-server
  namespace: {{ .Release.Namespace }}
{{- end }}
