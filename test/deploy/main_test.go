package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/testenv"
)

// The install's namespace, as config/default sets it and as the chart is rendered.
const namespace = "partnergov-system"

var (
	root  string
	env   *envtest.Environment
	admin client.Client
	ctx   = context.Background()
)

// TestMain starts one control plane for the package. Unlike testenv.Start it
// installs nothing (the tests install the rendered objects themselves), and
// its API server routes Service calls to EndpointSlices
// (--enable-aggregator-routing), so that the webhook configurations' Service
// can be pointed at the manager in the test process (manager_test.go).
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	level := zapcore.Level(2) // errors only
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		level = -1
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	var err error
	if root, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		fmt.Fprintf(os.Stderr, "test/deploy: no kube-apiserver in %s: run `make controlplane` first (%v)\n", assets, err)
		return 1
	}
	env = &envtest.Environment{Scheme: app.Scheme, BinaryAssetsDirectory: assets}
	env.ControlPlane.GetAPIServer().Configure().Set("enable-aggregator-routing", "true")
	if _, err := env.Start(); err != nil {
		_ = env.Stop()
		fmt.Fprintln(os.Stderr, "test/deploy: starting the control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if admin, err = client.New(env.Config, client.Options{Scheme: app.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// tool returns the path of a binary the tests need, failing (never skipping)
// with what to run when it is missing.
func tool(t *testing.T, rel, make string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `%s` first (the deployment tests render the install with it): %v", rel, make, err)
	}
	return p
}

func command(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// kustomize renders a kustomization directory (relative to the repository root).
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	return decode(t, command(t, tool(t, "bin/k8s/kubectl", "make controlplane"), "kustomize", dir))
}

// helm renders dist/chart, CRDs included, into the install's namespace.
func helm(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "partnergov", "dist/chart", "--namespace", namespace, "--include-crds"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return decode(t, command(t, tool(t, "bin/helm", "make helm"), args...))
}

// variant is one way to install: kustomize and Helm must render the same objects.
type variant struct {
	name      string
	kustomize string   // directory
	helmSet   []string // --set values
	certMgr   bool
	postgres  bool // the postgres records store (records.store=postgres)
	migration bool // with the migration DSN Secret
}

var variants = []variant{
	{name: "rotation", kustomize: "config/default"},
	{name: "cert-manager", kustomize: "config/default-certmanager", helmSet: []string{"certManager.enabled=true"}, certMgr: true},
	// config/default with the component config/prometheus, as docs/operations.md's overlay adds the alerting rules.
	{name: "alerts", kustomize: "test/deploy/testdata/alerts", helmSet: []string{"prometheusRule.enabled=true"}},
	{name: "postgres", kustomize: "config/default-records-postgres", helmSet: []string{"records.store=postgres"}, postgres: true},
	{name: "postgres-cert-manager", kustomize: "config/default-records-postgres-certmanager",
		helmSet: []string{"records.store=postgres", "certManager.enabled=true"}, certMgr: true, postgres: true},
	// config/default-records-postgres with the component config/records-postgres-migration, as docs/operations.md's overlay adds it.
	{name: "postgres-migration", kustomize: "test/deploy/testdata/records-migration",
		helmSet: []string{"records.store=postgres", "records.database.migrationSecretName=" + recordsMigrationSecret}, postgres: true, migration: true},
}

func decode(t *testing.T, b []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := d.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("decoding rendered YAML: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	if len(objs) == 0 {
		t.Fatal("the renderer produced no objects")
	}
	return objs
}

func key(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	k := gvk.Kind
	if gvk.Group != "" {
		k += "." + gvk.Group
	}
	if ns := u.GetNamespace(); ns != "" {
		return k + " " + ns + "/" + u.GetName()
	}
	return k + " " + u.GetName()
}

func ofKind(objs []*unstructured.Unstructured, kinds ...string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range objs {
		for _, k := range kinds {
			if u.GetKind() == k {
				out = append(out, u)
			}
		}
	}
	return out
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("the install has no %s %q", kind, name)
	return nil
}
