// Command run is `make run`: it starts a local control plane (etcd and
// kube-apiserver from bin/k8s), installs partnergov's CRDs and webhooks, runs the
// manager in the foreground, applies config/samples and prints a kubeconfig for
// kubectl. Ctrl-C stops the manager and the control plane.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/samples"
	"github.com/partnergov/partnergov/test/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(1)
	}
}

func run() error {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	ctx, started := signalContext()

	fmt.Println("starting etcd and kube-apiserver ...")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	started.Store(env)
	defer func() {
		fmt.Println("stopping the control plane ...")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()

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
	return <-mgrErr
}

// signalContext is cancelled by the first Ctrl-C or SIGTERM, which stops the
// manager and then the control plane. A second signal stops the control plane at
// once and exits, so no etcd or kube-apiserver is ever left behind.
func signalContext() (context.Context, *atomic.Pointer[testenv.Env]) {
	ctx, cancel := context.WithCancel(context.Background())
	var env atomic.Pointer[testenv.Env]
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "second signal: stopping the control plane now")
		if e := env.Load(); e != nil {
			_ = e.Stop()
		}
		os.Exit(1)
	}()
	return ctx, &env
}
