{{/*
Name of the ServiceAccount, ClusterRole, Role, bindings and Deployment.
Fixed by default so that commands and docs work the same with or without Helm.
*/}}
{{- define "bastida.fullname" -}}
{{- default "bastida-operator" .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bastida.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the operator's pods; never change them on upgrade. */}}
{{- define "bastida.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "bastida.labels" -}}
{{ include "bastida.selectorLabels" . }}
app.kubernetes.io/part-of: bastida
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "bastida.chart" . }}
{{- end -}}

{{- define "bastida.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
