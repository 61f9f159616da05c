// Command manager runs the partnergov controllers and admission webhooks.
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/partnergov/partnergov/internal/app"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	o := app.Defaults
	flag.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, `address the metrics endpoint binds to; "0" disables it`)
	flag.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "address the health probes bind to")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader so that only one replica acts at a time")
	flag.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader lease when running out of cluster")
	flag.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "port of the admission webhook server")
	flag.StringVar(&o.WebhookCertDir, "webhook-cert-dir", "", "directory with tls.crt and tls.key for the webhook server")
	qps := flag.Float64("kube-api-qps", float64(o.QPS), "requests per second to the API server")
	flag.IntVar(&o.Burst, "kube-api-burst", o.Burst, "burst of requests to the API server")
	flag.IntVar(&o.Controllers.MaxConcurrentReconciles, "max-concurrent-reconciles", o.Controllers.MaxConcurrentReconciles, "reconciles each controller runs at once")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	o.QPS = float32(*qps)

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	log.Info("starting partnergov", "version", version)

	mgr, err := app.NewManager(ctrl.GetConfigOrDie(), o)
	if err != nil {
		log.Error(err, "unable to build the manager")
		os.Exit(1)
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}
