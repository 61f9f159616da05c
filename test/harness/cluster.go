// Package harness runs partnergov the way an operator does, for `make bench`,
// `make chaos` and their small versions in `make test`: a local control plane
// (etcd and kube-apiserver from bin/k8s), the manager as its own process (built
// from main.go, so it can be killed with SIGKILL and restarted), a TCP front for
// the admission webhooks that forwards to whichever manager is alive (as a
// Service would), and the tools to load, watch and measure a program.
package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/testenv"
)

// SystemNamespace holds the leader-election lease.
const SystemNamespace = "partnergov-system"

// Cluster is a running control plane with partnergov's CRDs and webhooks.
type Cluster struct {
	Env *testenv.Env
	// Dir holds kubeconfigs and manager logs.
	Dir string
	// Admin is a cluster-admin client without client-side rate limits.
	Admin client.Client
	// ManagerKubeconfig is the path of the manager's kubeconfig (the generated
	// ClusterRole only, as in a cluster).
	ManagerKubeconfig string

	front *Front
	bin   string
}

// Start starts a control plane; Stop stops it. dir receives kubeconfigs and logs.
func Start(ctx context.Context, dir string) (*Cluster, error) { return StartWith(ctx, dir, Options{}) }

// Options adjust the control plane.
type Options struct {
	// RecordsServer prepares the control plane for the records server
	// (StartRecordsServer): API aggregation on, no DecisionRecord CRD (with it,
	// kube-apiserver would serve the records' group itself).
	RecordsServer bool
}

// StartWith is Start with options.
func StartWith(ctx context.Context, dir string, o Options) (*Cluster, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	certDir, err := os.MkdirTemp("", "partnergov-apiserver-")
	if err != nil {
		return nil, err
	}
	so := testenv.StartOptions{
		APIServerCertDir: certDir,
		// A busy program keeps the API server's CPU, not its request limits, the bottleneck.
		APIServerArgs: map[string][]string{"max-requests-inflight": {"800"}, "max-mutating-requests-inflight": {"400"}},
	}
	if o.RecordsServer {
		aggregation := filepath.Join(dir, "aggregation")
		if err := os.MkdirAll(aggregation, 0o700); err != nil {
			return nil, err
		}
		args, err := testenv.AggregationArgs(aggregation)
		if err != nil {
			return nil, err
		}
		for name, values := range args {
			so.APIServerArgs[name] = values
		}
		so.ExcludeCRDs = []string{testenv.RecordsCRD}
	}
	env, err := testenv.StartWith(so)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Env: env, Dir: dir}
	fail := func(err error) (*Cluster, error) { c.Stop(); return nil, err }
	if c.Admin, err = client.New(Unlimited(env.Config), client.Options{Scheme: app.Scheme}); err != nil {
		return fail(err)
	}
	if _, err := env.ManagerConfig(ctx); err != nil {
		return fail(err)
	}
	kubeconfig, err := env.UserKubeconfig(testenv.ManagerUser)
	if err != nil {
		return fail(err)
	}
	c.ManagerKubeconfig = filepath.Join(dir, "manager.kubeconfig")
	if err := os.WriteFile(c.ManagerKubeconfig, kubeconfig, 0o600); err != nil {
		return fail(err)
	}
	w := env.WebhookInstallOptions
	if c.front, err = newFront(fmt.Sprintf("%s:%d", w.LocalServingHost, w.LocalServingPort)); err != nil {
		return fail(err)
	}
	// The leader-election lease lives here; the manager may manage leases in it.
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: SystemNamespace, Name: "leader-election"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: SystemNamespace, Name: "leader-election"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "leader-election"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: testenv.ManagerUser}}},
	} {
		if err := c.Admin.Create(ctx, obj); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

// Stop stops the managers' front and the control plane.
func (c *Cluster) Stop() {
	if c.front != nil {
		c.front.Close()
	}
	dir := c.Env.ControlPlane.APIServer.CertDir
	_ = c.Env.Stop()
	_ = os.RemoveAll(dir)
}

// RestartAPIServer stops kube-apiserver, waits down for the given time, and
// starts it again on the same port with the same certificates; etcd keeps running.
func (c *Cluster) RestartAPIServer(down time.Duration) error {
	api := c.Env.ControlPlane.APIServer
	if err := api.Stop(); err != nil {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	time.Sleep(down)
	if err := api.Start(); err != nil {
		return fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	return nil
}

// UserClient is a client authenticating as the named user, limited to qps and burst
// (0 means no client-side limit).
func (c *Cluster) UserClient(qps float32, burst int, name string, groups ...string) (client.Client, error) {
	cfg, err := c.Env.UserConfig(name, groups...)
	if err != nil {
		return nil, err
	}
	if qps <= 0 {
		cfg = Unlimited(cfg)
	} else {
		cfg.QPS, cfg.Burst = qps, burst
	}
	return client.New(cfg, client.Options{Scheme: app.Scheme})
}

// Unlimited returns a copy of cfg without client-side rate limiting.
func Unlimited(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	return cfg
}

// Namespace creates a namespace.
func (c *Cluster) Namespace(ctx context.Context, name string) error {
	return client.IgnoreAlreadyExists(c.Admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))
}

var _ = v1alpha1.GroupVersion
