// Command manager runs the partnergov controllers and admission webhooks.
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/partnergov/partnergov/internal/app"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	o := app.Defaults
	o.BindFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	log.Info("starting partnergov", "version", version)
	if _, err := app.SetMemoryLimit(ctrl.Log.WithName("memlimit"), memlimit.FromCgroup); err != nil {
		log.Error(err, "GOMEMLIMIT left as it was")
	}

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
