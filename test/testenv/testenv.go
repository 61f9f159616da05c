// Package testenv starts a real control plane (etcd and kube-apiserver built into
// bin/k8s by `make controlplane`) with partnergov's CRDs and webhook configurations
// installed, and the manager serving the webhooks. The integration tests and
// `make run` both use it.
package testenv

import (
	"time"

	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/seal"
)

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	// Root is the repository's root directory.
	Root string
}

// RepoRoot finds the directory holding the module's go.mod, from the working directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/partnergov/partnergov\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the partnergov repository root (go.mod) above the working directory")
		}
		dir = parent
	}
}

// Start starts etcd and kube-apiserver with the CRDs and webhook configurations
// installed. The webhooks point at WebhookInstallOptions' local host and port,
// where a manager built with WebhookOptions must serve them.
func Start() (*Env, error) { return StartWith(StartOptions{}) }

// StartOptions adjust the control plane for the benchmark and chaos harness.
type StartOptions struct {
	// APIServerCertDir keeps kube-apiserver's certificates, and with them every
	// client's credentials, in a fixed directory, so that the API server can be
	// stopped and started again (ControlPlane.APIServer) with the clients still valid.
	APIServerCertDir string
	// APIServerArgs are set on kube-apiserver's command line (name to values).
	APIServerArgs map[string][]string
	// ExcludeCRDs are CRD files of config/crd/bases not to install, such as
	// RecordsCRD when the records server serves its group.
	ExcludeCRDs []string
}

// RecordsCRD is the DecisionRecord CRD's file in config/crd/bases: the
// records store `crd`. With the records server (store `postgres`) it must not
// be installed: kube-apiserver would serve the group from it.
const RecordsCRD = "records.partnergov.io_decisionrecords.yaml"

// crdPaths lists the CRD files of dir, without the excluded ones.
func crdPaths(dir string, exclude []string) ([]string, error) {
	if len(exclude) == 0 {
		return []string{dir}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") && !slices.Contains(exclude, e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// StartWith is Start with options.
func StartWith(o StartOptions) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("no kube-apiserver in %s: run `make controlplane` first (%w)", assets, err)
	}
	mutating, validating, err := WebhookConfigurations(root, ManagerUser)
	if err != nil {
		return nil, err
	}
	crds, err := crdPaths(filepath.Join(root, "config", "crd", "bases"), o.ExcludeCRDs)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		Scheme:                app.Scheme,
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crds,
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks: mutating, ValidatingWebhooks: validating,
		},
	}
	if o.APIServerCertDir != "" || len(o.APIServerArgs) > 0 {
		api := &envtest.APIServer{CertDir: o.APIServerCertDir}
		for name, values := range o.APIServerArgs {
			api.Configure().Set(name, values...)
		}
		env.ControlPlane.APIServer = api
	}
	if _, err := env.Start(); err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	return &Env{Environment: env, Root: root}, nil
}

// ManagerUser is the identity the manager runs as on the test control plane.
const ManagerUser = "partnergov-controller"

// ManagerConfig returns a config for the manager that holds only the ClusterRole
// generated into config/rbac/role.yaml, so a missing RBAC marker fails the tests
// as it would fail in a cluster.
func (e *Env) ManagerConfig(ctx context.Context) (*rest.Config, error) {
	objs, err := Objects(filepath.Join(e.Root, "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "ClusterRoleBinding",
		"metadata":   map[string]any{"name": "partnergov-manager"},
		"roleRef":    map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "manager-role"},
		"subjects":   []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": ManagerUser}},
	}}
	c, err := client.New(e.Config, client.Options{})
	if err != nil {
		return nil, err
	}
	if err := Apply(ctx, c, "partnergov-testenv", append(objs, binding)); err != nil {
		return nil, err
	}
	return e.UserConfig(ManagerUser)
}

// ManagerOptions returns app options that serve the webhooks where the API server
// expects them and keep metrics and probes off shared ports.
func (e *Env) ManagerOptions() app.Options {
	o := app.Defaults
	w := e.WebhookInstallOptions
	o.WebhookHost, o.WebhookPort, o.WebhookCertDir = w.LocalServingHost, w.LocalServingPort, w.LocalServingCertDir
	o.MetricsBindAddress = "0"
	o.HealthProbeBindAddress = "0"
	o.Seals = TestSeals
	// Tests prune records after seconds; the floor itself is tested by the
	// program validator's own test.
	o.MinRecordRetention = time.Second
	return o
}

// TestSeals are the seal keys of every manager the test environment starts: the
// same across restarts, as a mounted Secret would be.
var TestSeals = func() *seal.Keys {
	k, err := seal.New([]byte("partnergov-test-seal-key-0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return k
}()

// UserKubeconfig returns a kubeconfig file's contents authenticating as the named
// user in the given groups, for programs started against this control plane.
func (e *Env) UserKubeconfig(name string, groups ...string) ([]byte, error) {
	u, err := e.AddUser(envtest.User{Name: name, Groups: groups}, e.Config)
	if err != nil {
		return nil, err
	}
	return u.KubeConfig()
}

// UserConfig returns a config authenticating as the named user in the given groups.
func (e *Env) UserConfig(name string, groups ...string) (*rest.Config, error) {
	u, err := e.AddUser(envtest.User{Name: name, Groups: groups}, e.Config)
	if err != nil {
		return nil, err
	}
	return u.Config(), nil
}

// Objects reads every object of a kustomization directory's resources, in the
// order the kustomization lists them, or of a single YAML file.
func Objects(path string) ([]*unstructured.Unstructured, error) {
	files := []string{path}
	if info, err := os.Stat(path); err != nil {
		return nil, err
	} else if info.IsDir() {
		var k struct {
			Resources []string `json:"resources"`
		}
		b, err := os.ReadFile(filepath.Join(path, "kustomization.yaml"))
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(b, &k); err != nil {
			return nil, fmt.Errorf("%s/kustomization.yaml: %w", path, err)
		}
		files = files[:0]
		for _, r := range k.Resources {
			files = append(files, filepath.Join(path, r))
		}
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(strings.TrimSpace(string(doc))) == 0 {
				continue
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &u.Object); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(u.Object) > 0 {
				objs = append(objs, u)
			}
		}
	}
	return objs, nil
}

// Apply server-side-applies objects in order with the given field manager.
func Apply(ctx context.Context, c client.Client, fieldManager string, objs []*unstructured.Unstructured) error {
	for _, u := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", u.GetKind(), client.ObjectKeyFromObject(u), err)
		}
	}
	return nil
}
