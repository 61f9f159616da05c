// Command run is `make run`: it starts a local control plane (etcd and
// kube-apiserver from bin/k8s), installs partnergov's CRDs and webhooks, runs the
// manager in the foreground, applies config/samples and prints a kubeconfig for
// kubectl. Ctrl-C stops the manager and the control plane.
//
// With -records postgres (`make run RECORDS=postgres`) DecisionRecords are
// served by the records server on a throwaway PostgreSQL instead of their CRD.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/samples"
)

func main() {
	records := flag.String("records", storeCRD, "the records store: crd (DecisionRecords in their CRD, in etcd) "+
		"or postgres (the records server on a throwaway PostgreSQL, registered by an APIService)")
	flag.Parse()
	if err := run(*records); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(1)
	}
}

func run(store string) error {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	cp := &controlPlane{}
	ctx := signalContext(cp)
	defer func() {
		fmt.Println("stopping the control plane ...")
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	if store == storeCRD {
		fmt.Println("starting etcd and kube-apiserver ...")
	}
	if err := cp.start(ctx, store); err != nil {
		return err
	}
	env := cp.env

	dir, release, err := runDir(env.Root)
	if err != nil {
		return err
	}
	defer release()
	kubeconfig, err := samples.WriteAdminKubeconfig(env, dir)
	if err != nil {
		return err
	}

	opts := env.ManagerOptions()
	if opts.MetricsBindAddress, err = addr("127.0.0.1:8080"); err != nil {
		return err
	}
	if opts.HealthProbeBindAddress, err = addr("127.0.0.1:8081"); err != nil {
		return err
	}
	mgrConfig, err := env.ManagerConfig(ctx)
	if err != nil {
		return err
	}
	mgr, err := app.NewManager(mgrConfig, opts)
	if err != nil {
		return err
	}
	mgrErr := make(chan error, 1)
	go func() { mgrErr <- mgr.Start(ctx) }()

	if err := samples.Load(ctx, env); err != nil {
		return err
	}
	kubectl := filepath.Join(env.Root, "bin", "k8s", "kubectl")
	fmt.Printf(`
partnergov is running on a local control plane; the samples are applied and the
sample integrations (CRM, survey, service desk, LMS) have reported evidence.

  export KUBECONFIG=%s
  %s get partnergov -A
  kubectl get partners -n partners     # tiers decided from the evidence

Metrics: http://%s/metrics   Probes: http://%s/healthz   Ctrl-C stops everything.
`, kubeconfig, kubectl, opts.MetricsBindAddress, opts.HealthProbeBindAddress)
	if store == storePostgres {
		fmt.Printf(`
DecisionRecords are served by the records server (APIService v1alpha1.records.partnergov.io) from PostgreSQL:

  kubectl get apiservice v1alpha1.records.partnergov.io
  kubectl get decisionrecords -A
  %s -c 'SELECT namespace, name, type FROM decision_records'
`, cp.psqlCommand())
	}
	return <-mgrErr
}

// signalContext is cancelled by the first Ctrl-C or SIGTERM, which stops the
// manager and then the control plane. A second signal stops the control plane
// (and PostgreSQL) at once and exits, so no etcd, kube-apiserver or postgres
// is ever left behind.
func signalContext(cp *controlPlane) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "second signal: stopping the control plane now")
		_ = cp.Stop()
		os.Exit(1)
	}()
	return ctx
}
