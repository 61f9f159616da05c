package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/testenv"
)

// The suite runs one real control plane and one manager for every test in the
// package. Tests assert on what the API server stores, read with an uncached
// client, never on which calls the controller made.
var (
	env   *testenv.Env
	admin client.Client // uncached, cluster-admin
	ctx   context.Context
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.Level(zapLevel()))))
	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()

	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration suite:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	admin, err = client.New(env.Config, client.Options{Scheme: app.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := startManager(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { stopManager() }() // the current manager, before the control plane stops
	if err := waitForWebhooks(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// stopManager stops the running manager and waits until it has stopped.
var stopManager = func() {}

// startManager starts a manager as the controller's own identity, holding only
// the generated RBAC role.
func startManager() error { return startManagerWith(nil) }

// startManagerWith starts a manager whose options adjust changes first.
func startManagerWith(adjust func(*app.Options)) error {
	cfg, err := env.ManagerConfig(ctx)
	if err != nil {
		return err
	}
	opts := env.ManagerOptions()
	opts.SkipNameValidation = true
	if adjust != nil {
		adjust(&opts)
	}
	mgr, err := app.NewManager(cfg, opts)
	if err != nil {
		return err
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(mgrCtx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	stopManager = func() { cancel(); <-stopped }
	return nil
}

// restartManager stops the manager, as a crash or a rollout would, and starts a
// new one that begins from what the API server stores.
func restartManager(t *testing.T) { t.Helper(); restartManagerWith(t, nil) }

// restartManagerWith restarts the manager with options adjust changes.
func restartManagerWith(t *testing.T, adjust func(*app.Options)) {
	t.Helper()
	stopManager()
	if err := startManagerWith(adjust); err != nil {
		t.Fatal(err)
	}
	if err := waitForWebhooks(); err != nil {
		t.Fatal(err)
	}
}

func zapLevel() int8 {
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		return -1 // debug
	}
	return 2 // errors only: keep `go test` output readable
}

// waitForWebhooks waits until the manager's webhook server answers admissions.
func waitForWebhooks() error {
	deadline := time.Now().Add(60 * time.Second)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe"}}
	if err := admin.Create(ctx, ns); client.IgnoreAlreadyExists(err) != nil {
		return err
	}
	for {
		// The validating webhook refuses a partner of a program that does not
		// exist: that refusal is the answer this probe waits for.
		p := newPartner("webhook-probe", "probe")
		err := admin.Create(ctx, p, client.DryRunAll)
		if apierrors.IsInvalid(err) && strings.Contains(err.Error(), "spec.program") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhooks did not answer within 60s: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := admin.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(context.Background(), ns) })
	return ns.Name
}

// userClient returns an uncached client authenticated as the named user, and
// grants it the given cluster-wide rules.
func userClient(t *testing.T, name string, groups []string, rules ...rbacv1.PolicyRule) client.Client {
	t.Helper()
	if len(rules) > 0 {
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}, Rules: rules}
		if err := admin.Create(ctx, role); err != nil {
			t.Fatal(err)
		}
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
		}
		if err := admin.Create(ctx, binding); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = admin.Delete(context.Background(), binding)
			_ = admin.Delete(context.Background(), role)
		})
	}
	cfg, err := env.UserConfig(name, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, cfg)
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: app.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually is gomega's Eventually with the suite's timeouts.
func eventually(g Gomega, f any) AsyncAssertion {
	return g.Eventually(f).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond)
}
