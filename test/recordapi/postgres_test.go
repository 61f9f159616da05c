package recordapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/records/server"
	"github.com/partnergov/partnergov/test/postgres"
	"github.com/partnergov/partnergov/test/testenv"
)

// TestRecordAPIOnPostgres runs the record API suite through the real
// kube-apiserver against the records server, in process, on a throwaway
// PostgreSQL, registered by an APIService.
func TestRecordAPIOnPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	pg, err := postgres.Start(ctx)
	if err != nil {
		t.Fatalf("the records server's tests need PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	dsn, err := pg.CreateDatabase(ctx, "records")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	args, err := testenv.AggregationArgs(dir)
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.StartWith(testenv.StartOptions{APIServerArgs: args, ExcludeCRDs: []string{testenv.RecordsCRD}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	running := StartRecordsServer(ctx, t, env, dsn, dir)
	if err := env.RegisterAggregatedAPI(ctx, testenv.AggregatedAPI{
		Group: Resource.Group, Version: Resource.Version, Namespace: "partnergov-records", Service: "records-server",
		Host: running.Host, Port: running.Port, CABundle: running.CABundle,
	}); err != nil {
		t.Fatal(err)
	}

	kubectl, err := Kubectl(env, dir)
	if err != nil {
		t.Fatal(err)
	}
	RunRecordAPISuite(t, Config{
		Admin: env.Config, UserConfig: env.UserConfig, Manager: testenv.ManagerUser, Kubectl: kubectl,
		Namespace: "records-suite", NoWriteVerbs: true,
	})

	t.Run("the records server prunes its own records: the manager prunes none", func(t *testing.T) {
		prunes, err := app.RecordsStorePrunes(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		if self, err := prunes(ctx); err != nil || self != true {
			t.Errorf("the store prunes its own records: %v (%v), want true", self, err)
		}
	})

	t.Run("the server prunes records past their retention", func(t *testing.T) {
		mc, err := env.UserConfig(testenv.ManagerUser)
		if err != nil {
			t.Fatal(err)
		}
		d, err := dynamic.NewForConfig(mc)
		if err != nil {
			t.Fatal(err)
		}
		records := d.Resource(Resource).Namespace("records-suite")
		expired := Record("records-suite", "expired", "acme", "TierChange", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC))
		_ = unstructured.SetNestedField(expired.Object, "2019-01-02T00:00:00Z", "spec", "retainUntil")
		if _, err := records.Create(ctx, expired, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err := records.Get(ctx, "expired", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a record past its retention is still there after 20s (prune interval %s): %v", pruneInterval, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if _, err := records.Get(ctx, "acme-tier-promoted", metav1.GetOptions{}); err != nil {
			t.Errorf("a retained record was pruned: %v", err)
		}
	})

	t.Run("history --verify names a record edited in PostgreSQL", func(t *testing.T) {
		verifyNamesARowEditedInPostgres(ctx, t, env, pg)
	})

	t.Run("the server is ready only while its database answers", func(t *testing.T) {
		if code, body := readyz(ctx, t, running); code != http.StatusOK {
			t.Fatalf("readyz %d with the database up: %s", code, body)
		}
		if err := pg.Stop(); err != nil {
			t.Fatal(err)
		}
		code, body := readyz(ctx, t, running)
		if code == http.StatusOK || !strings.Contains(body, "records-database failed") {
			t.Errorf("readyz %d with the database down, want a failure naming records-database:\n%s", code, body)
		}
	})
}

// readyz asks the records server whether it is ready, as a kubelet's probe does (anonymously).
func readyz(ctx context.Context, t *testing.T, s RunningServer) (int, string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CABundle)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+net.JoinHostPort(s.Host.String(), strconv.Itoa(s.Port))+"/readyz?verbose", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Kubectl returns a function running the control plane's kubectl as a cluster admin.
func Kubectl(env *testenv.Env, dir string) (func(context.Context, ...string) (string, error), error) {
	kubeconfig, err := env.UserKubeconfig("suite-admin", "system:masters")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(file, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	bin := filepath.Join(env.BinaryAssetsDirectory, "kubectl")
	return func(ctx context.Context, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", file, "--cache-dir", filepath.Join(dir, "kubectl-cache")}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), nil
	}, nil
}

// pruneInterval is how often the test's records server prunes.
const pruneInterval = 300 * time.Millisecond

// RunningServer is a records server started by StartRecordsServer.
type RunningServer struct {
	Host     net.IP
	Port     int
	CABundle []byte
}

// StartRecordsServer starts the records server in process on a free port of
// this machine's address (testenv.HostIP), with the test control plane's authentication and authorization
// (as a cluster admin, for brevity: a cluster binds it system:auth-delegator),
// manager testenv.ManagerUser as the creator, and database dsn. It stops when
// ctx ends or the test's cleanup runs.
func StartRecordsServer(ctx context.Context, t *testing.T, env *testenv.Env, dsn, dir string) RunningServer {
	t.Helper()
	kubeconfig, err := env.UserKubeconfig("partnergov-records-server", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfigFile := filepath.Join(dir, "records-server.kubeconfig")
	if err := os.WriteFile(kubeconfigFile, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	host, err := testenv.HostIP()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := testenv.NewServingCert(dir, "partnergov-records", "records-server", host)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port

	o := server.NewOptions()
	o.DSN = dsn
	o.Creator = testenv.ManagerUser
	o.PruneInterval = pruneInterval
	o.SecureServing.Listener, o.SecureServing.BindPort = ln, port
	o.SecureServing.BindAddress = host
	o.SecureServing.ServerCert.CertKey.CertFile, o.SecureServing.ServerCert.CertKey.KeyFile = cert.CertFile, cert.KeyFile
	o.Authentication.RemoteKubeConfigFile = kubeconfigFile
	o.Authorization.RemoteKubeConfigFile = kubeconfigFile
	// Decisions are cached for seconds; the suite changes RBAC as it goes.
	o.Authorization.AllowCacheTTL, o.Authorization.DenyCacheTTL = 0, 0
	s, err := server.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Logf("records server: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Log("the records server did not stop within 30s")
		}
	})
	return RunningServer{Host: host, Port: port, CABundle: cert.CABundle}
}
