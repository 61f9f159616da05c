// Package recordsserver runs partnergov's records server in process against
// a test control plane, for `make run RECORDS=postgres` and the tests: on a
// free port of this machine's address (testenv.HostIP: the aggregator routes
// to an endpoint, which may not be a loopback address), with a serving
// certificate of its own, authenticating and authorizing through the control
// plane (as a cluster admin, for brevity: a cluster binds it
// system:auth-delegator), and the manager's user (testenv.ManagerUser) as the
// one creator.
package recordsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/partnergov/partnergov/internal/records/server"
	"github.com/partnergov/partnergov/test/testenv"
)

// Namespace and Service name the Service the records' APIService points at
// (the serving certificate is for its DNS names).
const (
	Namespace = "partnergov-records"
	Service   = "records-server"
)

// Running is a records server started by Start.
type Running struct {
	Host     net.IP
	Port     int
	CABundle []byte
	stop     context.CancelFunc
	done     chan error
}

// Options adjust Start.
type Options struct {
	// PruneInterval is how often the server prunes records past retention (the server's default when 0).
	PruneInterval time.Duration
	// NoAuthorizationCache makes every request ask kube-apiserver (tests that change RBAC as they go).
	NoAuthorizationCache bool
}

// Start starts the records server on database dsn for env, writing its
// kubeconfig and certificates into dir. It runs until ctx ends or Stop.
func Start(ctx context.Context, env *testenv.Env, dsn, dir string, opts Options) (*Running, error) {
	kubeconfig, err := env.UserKubeconfig("partnergov-records-server", "system:masters")
	if err != nil {
		return nil, err
	}
	kubeconfigFile := filepath.Join(dir, "records-server.kubeconfig")
	if err := os.WriteFile(kubeconfigFile, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	host, err := testenv.HostIP()
	if err != nil {
		return nil, err
	}
	cert, err := testenv.NewServingCert(dir, Namespace, Service, host)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host.String(), "0"))
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	o := server.NewOptions()
	o.DSN = dsn
	o.Creator = testenv.ManagerUser
	if opts.PruneInterval > 0 {
		o.PruneInterval = opts.PruneInterval
	}
	o.SecureServing.Listener, o.SecureServing.BindPort, o.SecureServing.BindAddress = ln, port, host
	o.SecureServing.ServerCert.CertKey.CertFile, o.SecureServing.ServerCert.CertKey.KeyFile = cert.CertFile, cert.KeyFile
	o.Authentication.RemoteKubeConfigFile = kubeconfigFile
	o.Authorization.RemoteKubeConfigFile = kubeconfigFile
	if opts.NoAuthorizationCache {
		o.Authorization.AllowCacheTTL, o.Authorization.DenyCacheTTL = 0, 0
	}
	s, err := server.New(ctx, o)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	r := &Running{Host: host, Port: port, CABundle: cert.CABundle, stop: stop, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	return r, nil
}

// Register routes the records' group version to the server with an
// APIService (testenv.RegisterAggregatedAPI), waits until it is Available,
// and then until the server authenticates kube-apiserver's requests: a
// records server that has just started answers a while as if every request
// were anonymous (Forbidden for system:anonymous), until it has read the
// front proxy's CA from kube-system/extension-apiserver-authentication.
func (r *Running) Register(ctx context.Context, env *testenv.Env) error {
	return Register(ctx, env, r.Host, r.Port, r.CABundle)
}

// Register is Running.Register for a records server running elsewhere (its
// own process, in the chaos harness) on host and port, whose serving
// certificate caBundle verifies (testenv.NewServingCert for Namespace and Service).
func Register(ctx context.Context, env *testenv.Env, host net.IP, port int, caBundle []byte) error {
	if err := env.RegisterAggregatedAPI(ctx, testenv.AggregatedAPI{
		Group: "records.partnergov.io", Version: "v1alpha1", Namespace: Namespace, Service: Service,
		Host: host, Port: port, CABundle: caBundle,
	}); err != nil {
		return err
	}
	records := dynamic.NewForConfigOrDie(env.Config).Resource(schema.GroupVersionResource{
		Group: "records.partnergov.io", Version: "v1alpha1", Resource: "decisionrecords"})
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := records.List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the records server does not answer a cluster admin's list a minute after its APIService is Available: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops the server and waits for it, at most 30 seconds.
func (r *Running) Stop() error {
	r.stop()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("the records server did not stop within 30s")
	}
}
