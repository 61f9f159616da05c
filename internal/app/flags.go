package app

import (
	"flag"
	"strconv"
)

// BindFlags registers the manager's command-line flags on fs, with o's values
// as their defaults. main.go parses them, and the deployment tests parse the
// args of the rendered Deployment with the same flags.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, `address the metrics endpoint binds to; "0" disables it`)
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", o.MetricsSecure, "serve metrics over HTTPS, only to callers the API server authenticates and authorizes for GET /metrics")
	fs.StringVar(&o.PprofBindAddress, "pprof-bind-address", o.PprofBindAddress, `address Go's pprof profiles are served on (e.g. 127.0.0.1:6060); "" or "0" disables them`)
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "address the health probes bind to")
	fs.BoolVar(&o.LeaderElection, "leader-elect", o.LeaderElection, "elect a leader so that only one replica acts at a time")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace, "namespace of the leader lease when running out of cluster")
	fs.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "port of the admission webhook server")
	fs.StringVar(&o.WebhookCertDir, "webhook-cert-dir", o.WebhookCertDir, "directory with tls.crt and tls.key for the webhook server")
	c := &o.CertRotation
	fs.BoolVar(&c.Enabled, "cert-rotation", c.Enabled, "generate and renew the webhook certificate into --cert-secret-name and inject its CA into the webhook configurations (off: the certificate in --webhook-cert-dir is used as it is, e.g. from cert-manager)")
	fs.StringVar(&c.SecretName, "cert-secret-name", c.SecretName, "Secret holding the rotated webhook CA and certificate, mounted at --webhook-cert-dir")
	fs.StringVar(&c.SecretNamespace, "cert-secret-namespace", c.SecretNamespace, "namespace of --cert-secret-name and --webhook-service-name (default $POD_NAMESPACE)")
	fs.StringVar(&c.ServiceName, "webhook-service-name", c.ServiceName, "Service the API server calls the webhooks through; the certificate is issued for <name>.<namespace>.svc")
	fs.StringVar(&c.MutatingWebhookConfiguration, "mutating-webhook-configuration", c.MutatingWebhookConfiguration, "MutatingWebhookConfiguration that gets the rotated CA bundle")
	fs.StringVar(&c.ValidatingWebhookConfiguration, "validating-webhook-configuration", c.ValidatingWebhookConfiguration, "ValidatingWebhookConfiguration that gets the rotated CA bundle")
	r := &o.RecordsServerCert
	fs.StringVar(&r.SecretName, "records-server-cert-secret-name", r.SecretName, "Secret (in the namespace of --cert-secret-name) the manager writes the records server's CA and serving certificate into and renews; with --records-server-service-name and --records-apiservice-name (all three or none; none: no records server certificate, e.g. the crd records store or cert-manager)")
	fs.StringVar(&r.ServiceName, "records-server-service-name", r.ServiceName, "Service the aggregator calls the records server through; its certificate is issued for <name>.<namespace>.svc")
	fs.StringVar(&r.APIServiceName, "records-apiservice-name", r.APIServiceName, "APIService registering the records server (v1alpha1.records.partnergov.io) that gets its CA bundle")
	fs.Var((*float32Value)(&o.QPS), "kube-api-qps", "requests per second to the API server")
	fs.IntVar(&o.Burst, "kube-api-burst", o.Burst, "burst of requests to the API server")
	fs.StringVar(&o.SealKeySecret, "seal-key-secret", o.SealKeySecret, "Secret of seal keys the manager owns (key \"keys\", one per line, the current first); shipped empty, the first manager writes a new key and seals the state stored before (used when --seal-key-file is not set)")
	fs.StringVar(&o.SealKeySecretNamespace, "seal-key-secret-namespace", o.SealKeySecretNamespace, "namespace of --seal-key-secret (default $POD_NAMESPACE)")
	fs.StringVar(&o.SealKeyFile, "seal-key-file", o.SealKeyFile, "file of seal keys, one per line, the current first (e.g. a mounted Secret); sealing is off without it")
	fs.DurationVar(&o.MinRecordRetention, "min-record-retention", o.MinRecordRetention, "the least spec.recordRetention a PartnerProgram may set (0: one year); a program with less is refused at admission")
	fs.DurationVar(&o.SyncPeriod, "sync-period", o.SyncPeriod, "how often every cached object is reconciled again even when nothing changed (0: controller-runtime's default, 10h)")
	fs.IntVar(&o.Controllers.MaxConcurrentReconciles, "max-concurrent-reconciles", o.Controllers.MaxConcurrentReconciles, "reconciles each controller runs at once")
	fs.DurationVar(&o.Controllers.RecordRetryMaxDelay, "record-retry-max-delay", o.Controllers.RecordRetryMaxDelay, "longest wait before a controller that creates decision records retries (the records store down); records are made at most this long after the store is back (0: 30s)")
}

type float32Value float32

func (f *float32Value) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 32) }

func (f *float32Value) Set(s string) error {
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return err
	}
	*f = float32Value(v)
	return nil
}
