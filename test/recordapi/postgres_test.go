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
	"github.com/partnergov/partnergov/test/postgres"
	"github.com/partnergov/partnergov/test/recordsserver"
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

	// The suite changes RBAC as it goes: no cached authorization.
	running, err := recordsserver.Start(ctx, env, dsn, dir, recordsserver.Options{PruneInterval: pruneInterval, NoAuthorizationCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = running.Stop() })
	if err := running.Register(ctx, env); err != nil {
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
func readyz(ctx context.Context, t *testing.T, s *recordsserver.Running) (int, string) {
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
