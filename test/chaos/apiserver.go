package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/partnergov/partnergov/test/harness"
)

// APIServerConfig sizes APIServerRestart.
type APIServerConfig struct {
	Partners int
	// Down is how long kube-apiserver stays stopped.
	Down    time.Duration
	Timeout time.Duration
}

// APIServerRestart kills kube-apiserver with SIGKILL and starts it again (etcd
// keeps running; see harness.CrashAPIServer for why not a graceful stop) while one
// manager converges N partners, then reports a second wave of evidence that moves
// every partner one tier up. The same manager process must keep running (no
// restart) and converge both waves, each decision recorded once.
func (e *Env) APIServerRestart(ctx context.Context, c APIServerConfig) Result {
	return runScenario(Result{Scenario: "kube-apiserver restarted mid-run", Size: fmt.Sprintf("%d partners, 2 evidence waves", c.Partners)}, func(r *Result) error { return e.apiServerRestart(ctx, c, r) })
}

func (e *Env) apiServerRestart(ctx context.Context, c APIServerConfig, r *Result) error {
	const ns = "chaos-apiserver"
	cl := e.Cluster
	if err := cl.HoldLease(ctx); err != nil {
		return err
	}
	m, err := e.startManager(ctx, "apiserver")
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
	if err := cl.ReleaseLease(ctx); err != nil {
		return err
	}
	if err := waitLeading(ctx, m, time.Minute); err != nil {
		return err
	}
	// Crash it mid-run: once the manager has decided something (or 5 s into its lead).
	_ = eventually(ctx, 5*time.Second, func() error {
		if tracker.Pending() == c.Partners {
			return fmt.Errorf("nothing decided yet")
		}
		return nil
	})
	pending := tracker.Pending()
	outage, err := cl.CrashAPIServer(c.Down)
	if err != nil {
		return err
	}
	e.logf("apiserver: kube-apiserver restarted (%s without it) with %d partners pending", outage.Round(time.Millisecond), pending)
	r.figure("kube-apiserver SIGKILLed and restarted: away %.1fs with %d of %d partners pending", outage.Seconds(), pending, c.Partners)

	// A second wave through the restarted API server: one tier up for everyone.
	reporter, err := cl.ReporterClient(0, 0)
	if err != nil {
		return err
	}
	if err := harness.Parallel(ctx, c.Partners, 16, func(ctx context.Context, i int) error {
		rank := (i + 1) % len(harness.Tiers)
		tracker.Expect(harness.PartnerName(i), harness.Tiers[rank], time.Time{})
		return retry(ctx, c.Timeout, func() error {
			return harness.ReportEvidence(ctx, reporter, ns, harness.PartnerName(i), rank, 1)
		})
	}); err != nil {
		return fmt.Errorf("second wave: %w", err)
	}
	if _, err := tracker.Wait(ctx, c.Timeout); err != nil {
		return err
	}
	if !m.Running() {
		return fmt.Errorf("the manager exited (log %s)", m.Log)
	}
	if err := waitLeading(ctx, m, 10*time.Second); err != nil {
		return fmt.Errorf("the manager no longer leads: %w", err)
	}
	r.figure("same manager process throughout, leading")

	partners, err := partnerList(ctx, cl.Admin, ns)
	if err != nil {
		return err
	}
	for i := range c.Partners {
		want := harness.Tiers[(i+1)%len(harness.Tiers)]
		p := partners[harness.PartnerName(i)]
		if p == nil {
			return fmt.Errorf("partner %s is gone", harness.PartnerName(i))
		}
		h := p.Status.History
		if p.Status.Tier != want || len(h) == 0 || h[len(h)-1].To != want {
			r.DecisionsLost++
			continue
		}
		// At most two decisions (the first wave's may have been overtaken by the
		// second), none repeated.
		r.Duplicated += historyDuplicates(h) + max(len(h)-2, 0)
	}
	return nil
}
