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
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
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
	kubeconfig, err := writeAdminKubeconfig(env, dir)
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

	// The program, partners and listings first; the requests once the evidence
	// has given the partners their tiers, so that a Funds request finds its
	// partner's cap (a request for a partner without one is denied NotEntitled).
	notRequest := func(o *unstructured.Unstructured) bool { return o.GetKind() != "ExceptionRequest" }
	if err := applySamples(ctx, env, notRequest); err != nil {
		return err
	}
	if err := reportSampleEvidence(ctx, env); err != nil {
		return err
	}
	if err := waitForFundsCap(ctx, env, "partners", "acme-consulting"); err != nil {
		return err
	}
	if err := applySamples(ctx, env, func(o *unstructured.Unstructured) bool { return !notRequest(o) }); err != nil {
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

// writeAdminKubeconfig writes a cluster-admin kubeconfig to bin/run/kubeconfig.
func writeAdminKubeconfig(env *testenv.Env, dir string) (string, error) {
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("adding the admin user: %w", err)
	}
	b, err := admin.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, b, 0o600)
}

// waitForFundsCap waits until the partner's tier gives it a funds cap.
func waitForFundsCap(ctx context.Context, env *testenv.Env, namespace, name string) error {
	c, err := client.New(env.Config, client.Options{Scheme: app.Scheme})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var p v1alpha1.Partner
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &p)
		if err == nil && p.Status.Funds != nil && p.Status.Funds.Cap != nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("partner %s/%s has no funds cap after its evidence was reported (%v)", namespace, name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// applySamples applies the objects of config/samples that keep selects, once the
// webhook server answers.
func applySamples(ctx context.Context, env *testenv.Env, keep func(*unstructured.Unstructured) bool) error {
	all, err := testenv.Objects(filepath.Join(env.Root, "config", "samples"))
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for _, o := range all {
		if keep(o) {
			objs = append(objs, o)
		}
	}
	c, err := client.New(env.Config, client.Options{Scheme: app.Scheme})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = testenv.Apply(ctx, c, "partnergov-samples", objs)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("applying config/samples: %w", err)
			}
			return nil
		}
		time.Sleep(500 * time.Millisecond) // the webhook server may still be starting
	}
}
