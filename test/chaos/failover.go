package chaos

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/test/harness"
)

// Leader election timing of the manager (controller-runtime's defaults, which
// internal/app keeps). client-go's follower tries the lease every RetryPeriod
// with a jitter factor of 1.2, i.e. every 2 s to 4.4 s, and counts the lease
// duration from when it saw the last renewal (which it may see up to one such
// interval late), so after a SIGKILL it leads at most TakeoverBound later.
const (
	LeaseDuration = 15 * time.Second
	RetryPeriod   = 2 * time.Second
	jitteredRetry = RetryPeriod * 22 / 10
	TakeoverBound = LeaseDuration + 2*jitteredRetry
)

// FailoverConfig sizes Failover.
type FailoverConfig struct {
	Partners int
	// KillAfter is how long the leader converges, from its first decision, before it is killed.
	KillAfter time.Duration
	Timeout   time.Duration
}

// Failover runs two managers, kills the leader with SIGKILL while it converges N
// partners and measures how long the follower takes to lead; that must be within
// the lease duration plus a retry period, and every partner must end with its
// one decision recorded once.
func (e *Env) Failover(ctx context.Context, c FailoverConfig) Result {
	return runScenario(Result{Scenario: "failover: leader killed, follower takes over", Size: fmt.Sprintf("%d partners, 2 managers", c.Partners)}, func(r *Result) error { return e.failover(ctx, c, r) })
}

func (e *Env) failover(ctx context.Context, c FailoverConfig, r *Result) error {
	const ns = "chaos-failover"
	cl := e.Cluster
	if err := cl.HoldLease(ctx); err != nil {
		return err
	}
	var ms []*harness.Manager
	for _, name := range []string{"failover-a", "failover-b"} {
		m, err := e.startManager(ctx, name)
		if err != nil {
			return err
		}
		defer m.Stop()
		ms = append(ms, m)
	}
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
	var leader, follower *harness.Manager
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for i, m := range ms {
			if isLeader(m) {
				leader, follower = m, ms[1-i]
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return fmt.Errorf("no manager took the lease: %w", err)
	}
	holder, err := cl.LeaseHolder(ctx)
	if err != nil {
		return err
	}
	// Kill it mid-run: once it has decided something, and KillAfter later.
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return tracker.Pending() < c.Partners, nil
	}); err != nil {
		return fmt.Errorf("the leader decided nothing: %w", err)
	}
	time.Sleep(c.KillAfter)
	pending := tracker.Pending()
	killed := time.Now()
	leader.Kill()
	r.Kills = 1
	var lease coordinationv1.Lease
	if err := cl.Admin.Get(ctx, client.ObjectKey{Namespace: harness.SystemNamespace, Name: harness.LeaseName}, &lease); err != nil {
		return err
	}
	var expiry time.Time
	if lease.Spec.RenewTime != nil {
		expiry = lease.Spec.RenewTime.Add(LeaseDuration)
	}
	newHolder, err := cl.WaitLeader(ctx, 2*LeaseDuration, holder)
	took := time.Since(killed)
	if err != nil {
		return fmt.Errorf("no manager took over after %s: %w", took.Round(time.Millisecond), err)
	}
	e.logf("failover: %s killed with %d partners pending; %s leads after %s", leader.Name, pending, newHolder, took.Round(time.Millisecond))
	if err := waitLeading(ctx, follower, 10*time.Second); err != nil {
		return fmt.Errorf("the lease moved to %s but %s does not lead: %w", newHolder, follower.Name, err)
	}
	limit := TakeoverBound
	r.figure("takeover %.1fs after the kill, %.1fs after the lease expired (lease %s, retry %s; bound %s)",
		took.Seconds(), killed.Add(took).Sub(expiry).Seconds(), LeaseDuration, RetryPeriod, limit)
	r.figure("%d of %d partners pending at the kill", pending, c.Partners)
	if took > limit {
		r.fail("the follower took %s to lead, more than %s", took.Round(time.Millisecond), limit)
	}
	if pending == 0 {
		r.fail("the leader had converged before it was killed: nothing was left to take over")
	}
	if _, err := tracker.Wait(ctx, c.Timeout); err != nil {
		return err
	}
	lost, dups, err := e.verifyOneDecision(ctx, ns, c.Partners)
	r.DecisionsLost, r.Duplicated = lost, dups
	return err
}

// verifyOneDecision checks that each of n partners loaded by loadPartners holds
// its tier with exactly the one decision that put it there.
func (e *Env) verifyOneDecision(ctx context.Context, ns string, n int) (lost, dups int, err error) {
	partners, err := partnerList(ctx, e.Cluster.Admin, ns)
	if err != nil {
		return 0, 0, err
	}
	for i := range n {
		want := harness.Tiers[i%len(harness.Tiers)]
		p, ok := partners[harness.PartnerName(i)]
		if !ok {
			return 0, 0, fmt.Errorf("partner %s is gone", harness.PartnerName(i))
		}
		h := p.Status.History
		switch {
		case p.Status.Tier != want || len(h) == 0 || h[len(h)-1].To != want:
			lost++
		case len(h) > 1:
			// Evidence was stored before any manager led: one decision, from no tier.
			dups += len(h) - 1
		}
	}
	return lost, dups, nil
}
