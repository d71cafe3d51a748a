{{- define "kubestate.labels" -}}
app.kubernetes.io/part-of: kubestate
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "kubestate.ksm.selector" -}}
app.kubernetes.io/name: kube-state-metrics
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kubestate.ms.selector" -}}
k8s-app: metrics-server
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kubestate.securityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65534
seccompProfile:
  type: RuntimeDefault
{{- end }}
