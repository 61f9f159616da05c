// Package samples sets up what `make run` shows: config/samples applied to a
// control plane whose manager runs, and the evidence of the sample
// integrations (CRM, survey, service desk, LMS) reported, each with its own
// identity, so the partners' tiers are decided. `make run` and the README's
// tour test (test/tour) both use it.
package samples

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/testenv"
)

// Load applies config/samples and reports the sample evidence; the manager
// must be running. The program, partners and listings go first; the requests
// once the evidence has given the partners their tiers, so that a Funds
// request finds its partner's cap (a request for a partner without one is
// denied NotEntitled).
func Load(ctx context.Context, env *testenv.Env) error {
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
	return applySamples(ctx, env, func(o *unstructured.Unstructured) bool { return !notRequest(o) })
}

// WriteAdminKubeconfig writes a cluster-admin kubeconfig to dir/kubeconfig and
// returns its path.
func WriteAdminKubeconfig(env *testenv.Env, dir string) (string, error) {
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
