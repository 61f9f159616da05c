// Package chaos holds the scenarios of `make chaos` and of their small versions
// in `make test`: the manager killed with SIGKILL while it converges and while
// reviews with funds effects go on, a leader failover, a kube-apiserver restart
// under a running manager, and integrations server-side-applying evidence as fast
// as they can while the controller writes status. Each scenario takes its size,
// runs against a harness cluster and returns a Result row with its figures.
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/test/harness"
)

// Result is one row of the chaos table.
type Result struct {
	Scenario string
	// Size says what was loaded (partners, requests, integrations, duration).
	Size string
	// Kills are SIGKILLs of a manager that the scenario survived.
	Kills int
	// DecisionsLost are tier decisions, reviewer decisions or approved effects
	// (grants, commitments) that are missing at the end.
	DecisionsLost int
	// Duplicated are decisions or effects recorded more than once (a tier
	// decision repeated in history, a reviewer decision or an approval recorded
	// twice, funds committed twice, a grant listed twice).
	Duplicated int
	// EvidenceLost are acknowledged evidence writes whose value is not stored at the end.
	EvidenceLost int
	// Figures are the scenario's other measurements, for the notes column.
	Figures []string
	Seconds float64
	Pass    bool
	// Reason says why the row failed (empty when it passed).
	Reason string
}

func (r *Result) figure(format string, args ...any) {
	r.Figures = append(r.Figures, fmt.Sprintf(format, args...))
}

// fail marks the row failed, keeping the first reason.
func (r *Result) fail(format string, args ...any) {
	r.Pass = false
	if r.Reason == "" {
		r.Reason = fmt.Sprintf(format, args...)
	}
}

// runScenario runs a scenario into its row, timing it and judging the counters.
func runScenario(r Result, run func(*Result) error) Result {
	start := time.Now()
	err := run(&r)
	r.Seconds = time.Since(start).Seconds()
	r.judge(err)
	return r
}

// judge sets Pass from the counters and an error.
func (r *Result) judge(err error) {
	r.Pass = r.Reason == ""
	if err != nil {
		r.fail("%v", err)
	}
	if r.DecisionsLost > 0 {
		r.fail("%d decisions or effects lost", r.DecisionsLost)
	}
	if r.Duplicated > 0 {
		r.fail("%d decisions or effects duplicated", r.Duplicated)
	}
	if r.EvidenceLost > 0 {
		r.fail("%d acknowledged evidence writes lost", r.EvidenceLost)
	}
}

// Env is a control plane with the manager binary and the load's program, shared
// by the scenarios (each uses its own namespace and stops its managers).
type Env struct {
	Cluster *harness.Cluster
	// Logf reports progress (nil: silent).
	Logf func(format string, args ...any)
	// Options are the managers' flags.
	Options harness.ManagerOptions
}

// FundsCap is the quarterly funds cap every tier of the load's program grants.
const FundsCap = "1000000"

// Setup starts a control plane under dir, builds the manager from root and
// installs the load's program (harness.InstallProgram) with a funds cap on every tier.
func Setup(ctx context.Context, root, dir string) (*Env, error) {
	bin, err := harness.BuildManager(ctx, root)
	if err != nil {
		return nil, err
	}
	cl, err := harness.Start(ctx, dir)
	if err != nil {
		return nil, err
	}
	return setup(ctx, cl, bin, dir)
}

// setup makes an Env of a started cluster with the manager binary bin: the seal
// key, and the program installed. It stops the cluster when it fails.
func setup(ctx context.Context, cl *harness.Cluster, bin, dir string) (*Env, error) {
	cl.SetManagerBinary(bin)
	e := &Env{Cluster: cl}
	// Every manager seals with the same key, as a mounted Secret gives them.
	keys, err := harness.WriteSealKey(dir)
	if err != nil {
		cl.Stop()
		return nil, err
	}
	e.Options.Args = append(e.Options.Args, "--seal-key-file", keys)
	// The webhooks fail closed without a manager: one serves them (as a
	// follower, the harness holding the lease) while the program is installed.
	if err := e.install(ctx); err != nil {
		cl.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Env) install(ctx context.Context) error {
	cl := e.Cluster
	if err := cl.HoldLease(ctx); err != nil {
		return err
	}
	m, err := e.startManager(ctx, "setup")
	if err != nil {
		return err
	}
	defer m.Stop()
	if err := cl.InstallProgram(ctx); err != nil {
		return err
	}
	for _, name := range harness.Tiers {
		var t v1alpha1.PartnerTier
		if err := cl.Admin.Get(ctx, client.ObjectKey{Name: name}, &t); err != nil {
			return err
		}
		t.Spec.Entitlements.FundsCapPerQuarter = &v1alpha1.Money{Amount: FundsCap, Currency: "USD"}
		if err := cl.Admin.Update(ctx, &t); err != nil {
			return err
		}
	}
	return cl.ReleaseLease(ctx)
}

// Stop stops the control plane.
func (e *Env) Stop() { e.Cluster.Stop() }

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

// startManager starts a manager and makes sure it is stopped (SIGTERM, which
// releases the lease for the next scenario) when the scenario ends.
func (e *Env) startManager(ctx context.Context, name string) (*harness.Manager, error) {
	return e.Cluster.StartManager(ctx, name, e.Options)
}

// freeLease frees the lease a killed manager held: the restarted manager takes it
// within its retry period instead of waiting out the 15 s lease duration (the
// failover scenario measures that wait). Only call it when no manager is alive.
func (e *Env) freeLease(ctx context.Context) error {
	return retry(ctx, time.Minute, func() error { return e.Cluster.ReleaseLease(ctx) })
}

// isLeader tells whether the manager reports itself the leader.
func isLeader(m *harness.Manager) bool {
	ms, err := m.Metrics()
	return err == nil && ms.Sum("leader_election_master_status", nil) > 0
}

// waitLeading waits until the manager leads.
func waitLeading(ctx context.Context, m *harness.Manager, timeout time.Duration) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		if !m.Running() {
			return false, fmt.Errorf("manager %s exited (log %s)", m.Name, m.Log)
		}
		return isLeader(m), nil
	})
}

// retry calls f until it succeeds or timeout passes: with no manager alive the
// webhooks fail closed, and during an API server restart nothing answers.
func retry(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// eventually polls check until it returns nil or timeout passes, and returns its last error.
func eventually(ctx context.Context, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// user is the harness's user with rules (Cluster.User).
func (e *Env) user(ctx context.Context, name string, rules ...rbacv1.PolicyRule) (client.Client, error) {
	return e.Cluster.User(ctx, name, rules...)
}

// Killer SIGKILLs a manager at random moments and restarts it after each kill.
type Killer struct {
	env *Env
	m   *harness.Manager
	// Min and Max bound the random time the manager runs (from being ready) before a kill.
	Min, Max time.Duration
	// During, when set, is asked at each kill whether it hit the phase under test.
	During func() bool

	mu      sync.Mutex
	kills   int
	during  int
	downFor time.Duration
}

// Run kills and restarts the manager n times, then leaves it running and leading.
func (k *Killer) Run(ctx context.Context, n int) error {
	for range n {
		d := k.Min + time.Duration(rand.Int64N(int64(k.Max-k.Min)+1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		if !k.m.Running() {
			return fmt.Errorf("manager %s exited by itself (log %s)", k.m.Name, k.m.Log)
		}
		during := k.During != nil && k.During()
		start := time.Now()
		k.m.Kill()
		if err := k.env.freeLease(ctx); err != nil {
			return err
		}
		if err := k.m.Restart(ctx); err != nil {
			return err
		}
		k.mu.Lock()
		k.kills++
		if during {
			k.during++
		}
		k.downFor += time.Since(start)
		k.mu.Unlock()
		k.env.logf("kill %d of %d survived (restarted in %s)", k.kills, n, time.Since(start).Round(time.Millisecond))
	}
	return waitLeading(ctx, k.m, time.Minute)
}

// Kills is how many kills the manager survived, and how many hit the phase under test.
func (k *Killer) Kills() (total, during int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kills, k.during
}

// historyDuplicates counts decisions in a partner's tier history that repeat the
// one before (a decision is a transition from the previous tier: the next one
// must start where it ended and go elsewhere).
func historyDuplicates(h []v1alpha1.TierDecision) int {
	dups := 0
	for i := 1; i < len(h); i++ {
		if h[i].To == h[i-1].To || h[i].From != h[i-1].To {
			dups++
		}
	}
	return dups
}

func partnerList(ctx context.Context, c client.Client, ns string) (map[string]*v1alpha1.Partner, error) {
	var list v1alpha1.PartnerList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	out := make(map[string]*v1alpha1.Partner, len(list.Items))
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// Dir is where the chaos runs keep kubeconfigs and manager logs.
func Dir(root, name string) string { return filepath.Join(root, "bin", "chaos", name) }
