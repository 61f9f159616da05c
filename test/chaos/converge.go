package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/partnergov/partnergov/test/harness"
)

// ConvergeConfig sizes CrashConvergence.
type ConvergeConfig struct {
	Partners int
	Kills    int
	// KillMin and KillMax bound how long the manager runs before each kill.
	KillMin, KillMax time.Duration
	// Timeout bounds the wait for convergence after the last kill.
	Timeout time.Duration
}

// loadPartners creates n partners in ns, each with evidence for tier i%4, while
// the harness holds the lease (the manager serves the webhooks, decides nothing).
func (e *Env) loadPartners(ctx context.Context, ns string, n int, tracker *harness.Tracker) error {
	cl := e.Cluster
	if err := cl.Namespace(ctx, ns); err != nil {
		return err
	}
	reporter, err := cl.ReporterClient(0, 0)
	if err != nil {
		return err
	}
	if err := cl.CreatePartners(ctx, ns, n, 16); err != nil {
		return err
	}
	return harness.Parallel(ctx, n, 16, func(ctx context.Context, i int) error {
		rank := i % len(harness.Tiers)
		if tracker != nil {
			tracker.Expect(harness.PartnerName(i), harness.Tiers[rank], time.Time{})
		}
		return harness.ReportEvidence(ctx, reporter, ns, harness.PartnerName(i), rank, 0)
	})
}

// CrashConvergence loads N partners with evidence, lets the manager converge them
// and SIGKILLs it at random moments K times (restarting it after each kill). At
// the end every partner must hold the tier its evidence qualifies for, with that
// one decision in its history, recorded once.
func (e *Env) CrashConvergence(ctx context.Context, c ConvergeConfig) Result {
	return runScenario(Result{Scenario: "crash: SIGKILL during convergence", Size: fmt.Sprintf("%d partners", c.Partners)}, func(r *Result) error { return e.crashConvergence(ctx, c, r) })
}

func (e *Env) crashConvergence(ctx context.Context, c ConvergeConfig, r *Result) error {
	const ns = "chaos-converge"
	cl := e.Cluster
	if err := cl.HoldLease(ctx); err != nil {
		return err
	}
	m, err := e.startManager(ctx, "converge")
	if err != nil {
		return err
	}
	defer m.Stop()
	if err := cl.Namespace(ctx, ns); err != nil {
		return err
	}
	tracker, err := cl.Track(ctx, ns)
	if err != nil {
		return err
	}
	defer tracker.Stop()
	if err := e.loadPartners(ctx, ns, c.Partners, tracker); err != nil {
		return fmt.Errorf("loading: %w", err)
	}
	e.logf("crash-convergence: %d partners loaded; the manager takes the lease", c.Partners)
	if err := cl.ReleaseLease(ctx); err != nil {
		return err
	}
	if err := waitLeading(ctx, m, time.Minute); err != nil {
		return err
	}
	converging := time.Now()
	k := &Killer{env: e, m: m, Min: c.KillMin, Max: c.KillMax, During: func() bool { return tracker.Pending() > 0 }}
	if err := k.Run(ctx, c.Kills); err != nil {
		return err
	}
	kills, during := k.Kills()
	r.Kills = kills
	if _, err := tracker.Wait(ctx, c.Timeout); err != nil {
		return err
	}
	r.figure("%d of %d kills before convergence", during, kills)
	r.figure("converged %.0fs after the lease", time.Since(converging).Seconds())
	if during == 0 {
		r.fail("no kill hit the convergence")
	}

	// Verify from the API server, not the tracker's cache.
	lost, dups, err := e.verifyOneDecision(ctx, ns, c.Partners)
	r.DecisionsLost, r.Duplicated = lost, dups
	return err
}
