package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/partnergov/partnergov/test/recordsserver"
	"github.com/partnergov/partnergov/test/testenv"
)

// BuildRecordsServer builds cmd/records-server into bin/partnergov-records-server
// under the repository root.
func BuildRecordsServer(ctx context.Context, root string) (string, error) {
	bin := filepath.Join(root, "bin", "partnergov-records-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/records-server")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the records server: %w\n%s", err, out)
	}
	return bin, nil
}

// RecordsServer is the records server (cmd/records-server) running as its own
// process, so it can be killed with SIGKILL and started again: on a fixed port
// of this machine's address (the APIService's endpoint stays the same across
// restarts), with a serving certificate for its Service's DNS names, delegated
// authentication and authorization through the control plane (as a cluster
// admin, for brevity: a cluster binds it system:auth-delegator and lets it read
// extension-apiserver-authentication), the manager's user as the one creator,
// and the database's DSN from a file.
type RecordsServer struct {
	*Daemon
	Host     net.IP
	Port     int
	CABundle []byte

	cluster *Cluster
	http    *http.Client
}

// StartRecordsServer starts binary bin on database dsn and waits until it is
// ready (its database answers). Register routes the records' group to it.
func (c *Cluster) StartRecordsServer(ctx context.Context, bin, dsn string) (*RecordsServer, error) {
	dir := filepath.Join(c.Dir, "records-server")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	kubeconfig, err := c.Env.UserKubeconfig("partnergov-records-server", "system:masters")
	if err != nil {
		return nil, err
	}
	kubeconfigFile := filepath.Join(dir, "records-server.kubeconfig")
	dsnFile := filepath.Join(dir, "dsn")
	for name, b := range map[string][]byte{kubeconfigFile: kubeconfig, dsnFile: []byte(dsn)} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			return nil, err
		}
	}
	host, err := testenv.HostIP()
	if err != nil {
		return nil, err
	}
	cert, err := testenv.NewServingCert(dir, recordsserver.Namespace, recordsserver.Service, host)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host.String(), "0"))
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert.CABundle)
	s := &RecordsServer{
		Daemon: newDaemon("records-server", bin, filepath.Join(c.Dir, "records-server.log"),
			"--bind-address="+host.String(), "--secure-port="+strconv.Itoa(port),
			"--tls-cert-file="+cert.CertFile, "--tls-private-key-file="+cert.KeyFile,
			"--authentication-kubeconfig="+kubeconfigFile, "--authorization-kubeconfig="+kubeconfigFile,
			"--creator-username="+testenv.ManagerUser, "--database-dsn-file="+dsnFile),
		Host: host, Port: port, CABundle: cert.CABundle, cluster: c,
		http: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	if err := s.WaitReady(ctx, time.Minute); err != nil {
		s.Kill()
		return nil, err
	}
	return s, nil
}

// Register routes records.partnergov.io/v1alpha1 to the server with an
// APIService and waits until a cluster admin lists records through kube-apiserver.
func (s *RecordsServer) Register(ctx context.Context) error {
	return recordsserver.Register(ctx, s.cluster.Env, s.Host, s.Port, s.CABundle)
}

// Ready tells whether the server answers /readyz (its database included).
func (s *RecordsServer) Ready() bool {
	resp, err := s.http.Get("https://" + net.JoinHostPort(s.Host.String(), strconv.Itoa(s.Port)) + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// errExited: the records server exited before it was ready.
var errExited = errors.New("the records server exited")

// WaitReady waits until the server is ready; it fails as soon as the process exits.
func (s *RecordsServer) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if s.Ready() {
			return nil
		}
		if !s.Running() {
			return fmt.Errorf("%w (log %s)", errExited, s.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the records server is not ready after %s (log %s)", timeout, s.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Restart starts the stopped server again, and again while it exits before
// it is ready (a database that is down fails its start, and a Deployment's
// pod restarts), until it is ready or timeout passes. It returns how many
// starts it took.
func (s *RecordsServer) Restart(ctx context.Context, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for starts := 1; ; starts++ {
		if err := s.Start(); err != nil {
			return starts, err
		}
		err := s.WaitReady(ctx, time.Until(deadline))
		if err == nil || !errors.Is(err, errExited) {
			return starts, err
		}
		if time.Now().After(deadline) {
			return starts, fmt.Errorf("the records server did not start within %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return starts, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// NamespaceControllerUser is the identity kube-controller-manager's namespace
// controller has in a cluster (--use-service-account-credentials); partnergov's
// webhooks let it delete what they refuse others while a namespace goes.
const NamespaceControllerUser = "system:serviceaccount:kube-system:namespace-controller"

// StartNamespaceController runs kube-controller-manager's namespace controller
// (hack/controlplane/namespace-controller, built by `make controlplane`) as
// NamespaceControllerUser (a cluster admin here), so deleted namespaces are
// emptied and go, as in a cluster.
func (c *Cluster) StartNamespaceController(ctx context.Context) (*Daemon, error) {
	var bin string
	for _, dir := range []string{c.Env.BinaryAssetsDirectory, filepath.Join(c.Env.Root, "bin", "k8s")} {
		if p := filepath.Join(dir, "namespace-controller"); executable(p) {
			bin = p
			break
		}
	}
	if bin == "" {
		return nil, fmt.Errorf("no namespace-controller in %s or %s: run `make controlplane`", c.Env.BinaryAssetsDirectory, filepath.Join(c.Env.Root, "bin", "k8s"))
	}
	kubeconfig, err := c.Env.UserKubeconfig(NamespaceControllerUser, "system:masters")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(c.Dir, "namespace-controller.kubeconfig")
	if err := os.WriteFile(file, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	p := newDaemon("namespace-controller", bin, filepath.Join(c.Dir, "namespace-controller.log"), "--kubeconfig="+file)
	return p, p.Start()
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
