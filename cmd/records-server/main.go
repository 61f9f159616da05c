// Command records-server is partnergov's records server: an aggregated API
// server serving decisionrecords.records.partnergov.io/v1alpha1 from
// PostgreSQL, registered with the cluster by an APIService.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	"github.com/partnergov/partnergov/internal/records/server"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	o := server.NewOptions()
	logOpts := logs.NewOptions()
	fs := pflag.NewFlagSet("records-server", pflag.ExitOnError)
	o.AddFlags(fs)
	logsapi.AddFlags(logOpts, fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := logsapi.ValidateAndApply(logOpts, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := genericapiserver.SetupSignalContext()
	if o.MigrateOnly {
		klog.InfoS("migrating the partnergov records schema", "version", version)
		if err := server.Migrate(ctx, o); err != nil {
			klog.ErrorS(err, "cannot migrate the records schema")
			os.Exit(1)
		}
		klog.InfoS("the records schema is up to date")
		return
	}
	klog.InfoS("starting the partnergov records server", "version", version)
	s, err := server.New(ctx, o)
	if err != nil {
		klog.ErrorS(err, "cannot start the records server")
		os.Exit(1)
	}
	if err := s.Run(ctx); err != nil {
		klog.ErrorS(err, "the records server stopped")
		os.Exit(1)
	}
}
