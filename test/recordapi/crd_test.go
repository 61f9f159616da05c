package recordapi

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/testenv"
)

// TestRecordAPIOnCRD runs the record API suite through the real kube-apiserver
// against the default store: the DecisionRecord CRD, with the manager serving
// the webhook that keeps records the manager's alone and unchanged.
func TestRecordAPIOnCRD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cfg, err := env.ManagerConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opts := env.ManagerOptions()
	opts.SkipNameValidation = true
	mgr, err := app.NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(mgrCtx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	t.Cleanup(func() { stop(); <-stopped })

	kubectl, err := Kubectl(env, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	RunRecordAPISuite(t, Config{
		Admin: env.Config, UserConfig: env.UserConfig, Manager: testenv.ManagerUser, Kubectl: kubectl,
		Namespace: "records-suite",
	})

	t.Run("the CRD store advertises delete: the manager prunes it", func(t *testing.T) {
		prunes, err := app.RecordsStorePrunes(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		if self, err := prunes(ctx); err != nil || self != false {
			t.Errorf("the store prunes its own records: %v (%v), want false", self, err)
		}
	})
}
