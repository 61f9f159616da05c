package chaos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/plugin"
	"github.com/partnergov/partnergov/test/harness"
	"github.com/partnergov/partnergov/test/postgres"
)

// RecordsEnv is an Env whose DecisionRecords the records server serves from
// PostgreSQL (the records store `postgres`): a control plane with API
// aggregation and without the records CRD, PostgreSQL from test/postgres, and
// the records server as its own process, registered by an APIService on a
// fixed endpoint so that it can be killed and started again.
type RecordsEnv struct {
	*Env
	Postgres *postgres.Server
	Records  *harness.RecordsServer
}

// SetupRecords builds the manager from root, starts the records store
// (harness.StartPostgresRecords: PostgreSQL, a control plane under dir ready
// for the records server, the records server registered by its APIService),
// and installs the load's program as Setup does.
func SetupRecords(ctx context.Context, root, dir string) (*RecordsEnv, error) {
	mgr, err := harness.BuildManager(ctx, root)
	if err != nil {
		return nil, err
	}
	pr, err := harness.StartPostgresRecords(ctx, root, dir)
	if err != nil {
		return nil, err
	}
	e := &RecordsEnv{Env: &Env{Cluster: pr.Cluster}, Postgres: pr.Postgres, Records: pr.Records}
	env, err := setup(ctx, pr.Cluster, mgr, dir)
	if err != nil {
		e.Env = nil // setup stopped the cluster
		e.Stop()
		return nil, err
	}
	e.Env = env
	return e, nil
}

// Stop stops the records server, the control plane and PostgreSQL.
func (e *RecordsEnv) Stop() {
	if e.Records != nil {
		e.Records.Stop()
	}
	if e.Env != nil {
		e.Env.Stop()
	}
	if e.Postgres != nil {
		_ = e.Postgres.Stop()
	}
}

// RecordsOutageConfig sizes RecordsOutage.
type RecordsOutageConfig struct {
	Partners int
	// Waves are the evidence waves made while the records server is killed,
	// each moving every partner one tier, after the partners' load and a
	// reference wave with the records store healthy; at least 2: PostgreSQL
	// restarts during the first of them, and stays down during the last
	// until every partner holds its tier.
	Waves int
	// WaveEvery is how far apart the waves are written; the records server
	// is killed meanwhile.
	WaveEvery time.Duration
	// KillEvery is how often the records server is SIGKILLed, Down how long
	// it stays dead before it is started again.
	KillEvery, Down time.Duration
	// PostgresDown is how long PostgreSQL stays down in its restart during a wave.
	PostgresDown time.Duration
	// Budget is how long every wave may take to be decided: decisions that
	// waited for the records store would not be made while it is held down.
	Budget time.Duration
	// HoldTerminating is how long a namespace deleted while the records server
	// is down is watched staying Terminating.
	HoldTerminating time.Duration
	// Timeout bounds the waits for records to catch up and for a namespace to go.
	Timeout time.Duration
}

// RecordsOutage makes tier decisions for N partners in waves (evidence moving
// every partner one tier) while the records server is SIGKILLed every
// KillEvery and started again after Down, and PostgreSQL is restarted twice on
// its data directory: once during a wave, and once held down for a whole wave.
// Every wave must be decided within Budget (decisions do not wait for the
// records store). Afterwards every decision in the partners' histories must
// have exactly one DecisionRecord, and each partner's record chain must verify
// (no gap, no fork). Then namespace deletion: a namespace deleted while the
// records server is down stays Terminating (an unavailable aggregated API holds
// up namespace deletion), and is deleted once the server is back; the row
// reports how long after.
func (e *RecordsEnv) RecordsOutage(ctx context.Context, c RecordsOutageConfig) Result {
	return runScenario(Result{Scenario: "records server killed and PostgreSQL restarted during decisions",
		Size: fmt.Sprintf("%d partners, %d waves of tier changes", c.Partners, c.Waves+2)}, func(r *Result) error {
		return e.recordsOutage(ctx, c, r)
	})
}

func (e *RecordsEnv) recordsOutage(ctx context.Context, c RecordsOutageConfig, r *Result) error {
	const ns = "chaos-records-outage"
	if c.Waves < 2 {
		return fmt.Errorf("RecordsOutage needs at least 2 waves after the load, not %d", c.Waves)
	}
	cl := e.Cluster
	if err := cl.HoldLease(ctx); err != nil {
		return err
	}
	m, err := e.startManager(ctx, "records-outage")
	if err != nil {
		return err
	}
	defer m.Stop()
	tracker, err := cl.Track(ctx, ns)
	if err != nil {
		return err
	}
	defer tracker.Stop()
	if err := e.loadPartners(ctx, ns, c.Partners, tracker); err != nil {
		return fmt.Errorf("loading: %w", err)
	}
	reporter, err := cl.ReporterClient(0, 0)
	if err != nil {
		return err
	}

	e.logf("records-outage: %d partners loaded; the manager takes the lease", c.Partners)
	if err := cl.ReleaseLease(ctx); err != nil {
		return err
	}
	if err := waitLeading(ctx, m, time.Minute); err != nil {
		return err
	}

	began := time.Now()
	// pace waits for wave w's turn: the records server dies and comes back
	// between the waves, and while their decisions are recorded.
	pace := func(w int) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(began.Add(time.Duration(w) * c.WaveEvery))):
			return nil
		}
	}
	// wave writes evidence moving every partner to tier (i+w)%4 (w > 0) and
	// waits, at most Budget, until every partner holds it.
	wave := func(w int, during string) (latencies []time.Duration, took time.Duration, err error) {
		start := time.Now()
		if w > 0 {
			if err := harness.Parallel(ctx, c.Partners, 16, func(ctx context.Context, i int) error {
				tracker.Expect(harness.PartnerName(i), harness.Tiers[(i+w)%len(harness.Tiers)], time.Now())
				return retry(ctx, c.Budget, func() error {
					return harness.ReportEvidence(ctx, reporter, ns, harness.PartnerName(i), (i+w)%len(harness.Tiers), w)
				})
			}); err != nil {
				return nil, 0, fmt.Errorf("wave %d: %w", w, err)
			}
		}
		if _, err := tracker.Wait(ctx, c.Budget); err != nil {
			r.fail("decisions blocked: wave %d (%s): %v", w, during, err)
			return nil, 0, err
		}
		latencies, took = tracker.Latencies(), time.Since(start)
		e.logf("records-outage: wave %d (%s) decided in %s (p99 %s)", w, during, took.Round(time.Millisecond), harness.Quantile(latencies, 0.99).Round(time.Millisecond))
		return latencies, took, nil
	}
	// The load, then a reference wave, with the records store healthy.
	if _, _, err := wave(0, "the load, records healthy"); err != nil {
		return err
	}
	if err := pace(1); err != nil {
		return err
	}
	reference, _, err := wave(1, "records healthy")
	if err != nil {
		return err
	}

	k := &recordsKiller{rs: e.Records, every: c.KillEvery, down: c.Down, stop: make(chan struct{}), done: make(chan struct{})}
	go k.run(ctx)
	stopKiller := sync.OnceValue(func() error { close(k.stop); <-k.done; return k.failed() })
	defer func() { _ = stopKiller() }()
	e.logf("records-outage: the records server is SIGKILLed every %s from now on", c.KillEvery)
	var outage []time.Duration
	var pgDown time.Duration
	for w := 2; w <= c.Waves; w++ {
		if err := pace(w); err != nil {
			return err
		}
		during := "records server killed"
		restart := make(chan error, 1)
		if w == 2 {
			during += ", PostgreSQL restarted"
			go func() {
				start := time.Now()
				e.Postgres.Shutdown()
				time.Sleep(c.PostgresDown)
				err := e.Postgres.StartAgain(ctx)
				pgDown = time.Since(start)
				restart <- err
			}()
		} else {
			restart <- nil
		}
		lat, _, err := wave(w, during)
		if err != nil {
			<-restart
			return err
		}
		outage = append(outage, lat...)
		if err := <-restart; err != nil {
			return fmt.Errorf("restarting PostgreSQL: %w", err)
		}
	}
	// The last wave with PostgreSQL down throughout: every decision is made
	// while no record can be.
	last := c.Waves + 1
	if err := pace(last); err != nil {
		return err
	}
	heldAt := time.Now()
	e.Postgres.Shutdown()
	lat, heldWave, err := wave(last, "PostgreSQL down throughout")
	outage = append(outage, lat...)
	if startErr := e.Postgres.StartAgain(ctx); startErr != nil {
		return fmt.Errorf("starting PostgreSQL again: %w", startErr)
	}
	held := time.Since(heldAt)
	if err != nil {
		return err
	}
	if err := stopKiller(); err != nil {
		return err
	}
	if !e.Records.Running() {
		if _, err := e.Records.Restart(ctx, time.Minute); err != nil {
			return err
		}
	} else if err := e.Records.WaitReady(ctx, time.Minute); err != nil {
		return err
	}
	back := time.Now()
	kills, starts := k.counts()
	r.Kills = kills
	r.figure("records server SIGKILLed %d times (every %s, %s down; %d starts, those while PostgreSQL was down failing)", kills, c.KillEvery, c.Down, starts)
	r.figure("PostgreSQL restarted twice: down %.1fs during wave 2, and held down %.1fs while wave %d was decided (its %d decisions in %.1fs)", pgDown.Seconds(), held.Seconds(), last, c.Partners, heldWave.Seconds())
	if kills == 0 {
		r.fail("the records server was never killed while decisions were made")
	}
	slices.Sort(outage)
	quantiles := func(d []time.Duration) string {
		q := func(f float64) string { return harness.Quantile(d, f).Round(10 * time.Millisecond).String() }
		return fmt.Sprintf("p50 %s, p99 %s, max %s", q(0.5), q(0.99), q(1))
	}
	r.figure("every wave decided within its %s budget; evidence to tier with records healthy (wave 1) %s, with records unavailable (waves 2-%d, %d decisions) %s",
		c.Budget, quantiles(reference), last, len(outage), quantiles(outage))

	// The records catch up from what the partners' status holds.
	var seen recordsCheck
	if err := eventually(ctx, c.Timeout, func() error {
		var err error
		seen, err = e.checkTierRecords(ctx, ns, false)
		if err == nil && seen.lost > 0 {
			err = fmt.Errorf("%d decisions without a record", seen.lost)
		}
		return err
	}); err != nil && seen.lost == 0 {
		return err
	}
	caughtUp := time.Since(back)
	final, err := e.checkTierRecords(ctx, ns, true)
	if err != nil {
		return err
	}
	r.DecisionsLost, r.Duplicated = final.lost, final.dups
	r.figure("records caught up %.1fs after the store was back: %d records checked, one per decision; %d chains verified", caughtUp.Seconds(), final.checked, final.chains)

	partners, err := partnerList(ctx, cl.Admin, ns)
	if err != nil {
		return err
	}
	for i := range c.Partners {
		want := harness.Tiers[(i+last)%len(harness.Tiers)]
		p := partners[harness.PartnerName(i)]
		switch {
		case p == nil:
			return fmt.Errorf("partner %s is gone", harness.PartnerName(i))
		case p.Status.Tier != want || len(final.decisions[p.Name]) < last+1:
			r.DecisionsLost++
		default:
			// One decision per wave, each from the tier before (read from the
			// records: status.history keeps only the present).
			r.Duplicated += historyDuplicates(final.decisions[p.Name]) + len(final.decisions[p.Name]) - (last + 1)
		}
	}
	if err := m.SaveMetrics(cl.Dir + "/records-outage.metrics"); err != nil {
		e.logf("records-outage: saving the manager's metrics: %v", err)
	}
	m.Stop()
	return e.namespaceDeletion(ctx, c, r)
}

// chainSequence is rec's place in its partner's chain (0 before it is chained).
func chainSequence(rec recordsv1alpha1.DecisionRecord) int64 {
	if rec.Spec.Chain == nil {
		return 0
	}
	return rec.Spec.Chain.Sequence
}

// recordsKiller SIGKILLs the records server every `every` and starts it
// again after `down`, until stopped.
type recordsKiller struct {
	rs          *harness.RecordsServer
	every, down time.Duration
	stop, done  chan struct{}

	mu            sync.Mutex
	kills, starts int
	err           error
}

func (k *recordsKiller) run(ctx context.Context) {
	defer close(k.done)
	for {
		select {
		case <-k.stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(k.every):
		}
		k.rs.Kill()
		k.mu.Lock()
		k.kills++
		k.mu.Unlock()
		time.Sleep(k.down)
		n, err := k.rs.Restart(ctx, 5*time.Minute)
		k.mu.Lock()
		k.starts += n
		k.err = err
		k.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (k *recordsKiller) counts() (kills, starts int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kills, k.starts
}

func (k *recordsKiller) failed() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// recordsCheck is what checkTierRecords found.
type recordsCheck struct {
	// lost are tier decisions without a record; dups records beyond the
	// first of a decision, and records of no decision the partners hold.
	lost, dups, checked, chains int
	// decisions are each partner's recorded tier decisions, one per decision,
	// in chain order: status.history keeps only the present (issue 28), so
	// the records are the list of every decision.
	decisions map[string][]v1alpha1.TierDecision
}

// checkTierRecords counts the tier decisions of ns's partners without a
// DecisionRecord and the records that repeat a decision or record none;
// with chains, it also verifies every partner's record chain.
func (e *RecordsEnv) checkTierRecords(ctx context.Context, ns string, chains bool) (recordsCheck, error) {
	var out recordsCheck
	var recs recordsv1alpha1.DecisionRecordList
	if err := e.Cluster.Admin.List(ctx, &recs, client.InNamespace(ns)); err != nil {
		return out, err
	}
	count := map[string]int{}
	// partnerOf and timeOf say whose decision a record key is, and when.
	partnerOf, timeOf := map[string]string{}, map[string]time.Time{}
	tierRecs := slices.DeleteFunc(slices.Clone(recs.Items), func(rec recordsv1alpha1.DecisionRecord) bool {
		return rec.Spec.Type != recordsv1alpha1.DecisionTierChange
	})
	slices.SortFunc(tierRecs, func(a, b recordsv1alpha1.DecisionRecord) int { return cmp.Compare(chainSequence(a), chainSequence(b)) })
	out.decisions = map[string][]v1alpha1.TierDecision{}
	for _, rec := range tierRecs {
		s := rec.Spec
		k := s.Partner + "/" + s.Time.UTC().Format(time.RFC3339) + "/" + s.From + "/" + s.To
		if count[k] == 0 {
			out.decisions[s.Partner] = append(out.decisions[s.Partner], v1alpha1.TierDecision{Time: s.Time, From: s.From, To: s.To, Reason: s.Reason})
		}
		count[k]++
		partnerOf[k], timeOf[k] = s.Partner, s.Time.Time
	}
	partners, err := partnerList(ctx, e.Cluster.Admin, ns)
	if err != nil {
		return out, err
	}
	want := map[string]bool{}
	// oldest is when each partner's oldest decision in status.history was
	// made: status.history keeps only the present, so a record of an older
	// decision is of one it dropped, not of no decision.
	oldest := map[string]time.Time{}
	for _, p := range partners {
		for i, d := range p.Status.History {
			want[p.Name+"/"+d.Time.UTC().Format(time.RFC3339)+"/"+d.From+"/"+d.To] = true
			if i == 0 {
				oldest[p.Name] = d.Time.Time
			}
		}
	}
	for k := range want {
		if count[k] == 0 {
			out.lost++
		}
	}
	for k, n := range count {
		out.dups += n - 1
		if at, ok := oldest[partnerOf[k]]; !want[k] && (!ok || !timeOf[k].Before(at)) {
			out.dups++
		}
	}
	out.checked = len(want)
	if !chains {
		return out, nil
	}
	for _, p := range partners {
		v, err := plugin.VerifyHistory(ctx, e.Cluster.Admin, types.NamespacedName{Namespace: ns, Name: p.Name}, time.Now())
		if err != nil {
			return out, err
		}
		if !v.Verified() {
			return out, fmt.Errorf("the record chain of partner %s/%s: %s", ns, p.Name, v.Findings[0])
		}
		out.chains++
	}
	return out, nil
}

// namespaceDeletion deletes a namespace with the records server up, for a
// reference, and one with it down: the latter must stay Terminating while
// discovery of the records' group fails, and go once the server is back.
func (e *RecordsEnv) namespaceDeletion(ctx context.Context, c RecordsOutageConfig, r *Result) error {
	const baseline, doomed = "chaos-records-outage-up", "chaos-records-outage-down"
	cl := e.Cluster
	if err := cl.HoldLease(ctx); err != nil {
		return err
	}
	m, err := e.startManager(ctx, "records-outage-namespaces")
	if err != nil {
		return err
	}
	defer m.Stop()
	for _, ns := range []string{baseline, doomed} {
		if err := e.loadPartners(ctx, ns, 3, nil); err != nil {
			return err
		}
	}
	if err := cl.ReleaseLease(ctx); err != nil {
		return err
	}
	// Each namespace holds its partners' decisions and their records.
	for _, ns := range []string{baseline, doomed} {
		if err := eventually(ctx, c.Timeout, func() error {
			got, err := e.checkTierRecords(ctx, ns, false)
			if err == nil && (got.lost > 0 || got.checked < 3) {
				err = fmt.Errorf("%s: %d of %d decisions recorded", ns, got.checked-got.lost, got.checked)
			}
			return err
		}); err != nil {
			return err
		}
	}
	nc, err := cl.StartNamespaceController(ctx)
	if err != nil {
		return err
	}
	defer nc.Stop()

	start := time.Now()
	if err := cl.Admin.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: baseline}}); err != nil {
		return err
	}
	if err := e.waitNamespaceGone(ctx, baseline, c.Timeout); err != nil {
		return fmt.Errorf("with the records server up: %w", err)
	}
	up := time.Since(start)

	killed := time.Now()
	e.Records.Kill()
	if err := e.waitAPIService(ctx, false, c.Timeout); err != nil {
		return err
	}
	unavailable := time.Since(killed)
	deleted := time.Now()
	if err := cl.Admin.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: doomed}}); err != nil {
		return err
	}
	var why string
	terminating := true
	for time.Since(deleted) < c.HoldTerminating {
		var n corev1.Namespace
		err := cl.Admin.Get(ctx, client.ObjectKey{Name: doomed}, &n)
		if apierrors.IsNotFound(err) {
			terminating = false
			break
		}
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NamespaceDeletionDiscoveryFailure && cond.Status == corev1.ConditionTrue {
				why = string(cond.Type)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	heldFor := time.Since(deleted)

	restarted := time.Now()
	if _, err := e.Records.Restart(ctx, time.Minute); err != nil {
		return err
	}
	back := time.Now()
	// Both at once: when the aggregator sees the server available again, and
	// when the namespace is gone.
	var available, gone time.Duration
	if err := eventually(ctx, c.Timeout, func() error {
		if available == 0 && e.apiServiceAvailable(ctx, true) == nil {
			available = time.Since(back)
		}
		if gone == 0 && e.namespaceGone(ctx, doomed) == nil {
			gone = time.Since(back)
		}
		if available == 0 || gone == 0 {
			return fmt.Errorf("after the records server was back: %v; %v", e.apiServiceAvailable(ctx, true), e.namespaceGone(ctx, doomed))
		}
		return nil
	}); err != nil {
		return err
	}
	var kept recordsv1alpha1.DecisionRecordList
	keptText := ""
	if err := cl.Admin.List(ctx, &kept, client.InNamespace(doomed)); err == nil {
		keptText = fmt.Sprintf("; its %d records kept", len(kept.Items))
	}
	e.logf("records-outage: namespace deleted in %s with the records server up; with it down, %s (restarted in %s), deleted %s after it was back",
		up.Round(time.Millisecond), map[bool]string{true: "Terminating for " + heldFor.Round(time.Second).String(), false: "deleted anyway"}[terminating],
		back.Sub(restarted).Round(time.Millisecond), gone.Round(time.Millisecond))
	switch {
	case terminating && why != "":
		r.figure("namespace deletion: %.1fs with the records server up; with it down (APIService unavailable %.0fs after the kill) Terminating %.0fs (%s), deleted %.1fs after it was back (APIService Available after %.1fs)%s",
			up.Seconds(), unavailable.Seconds(), heldFor.Seconds(), why, gone.Seconds(), available.Seconds(), keptText)
	case terminating:
		r.figure("namespace deletion: %.1fs with the records server up; with it down (APIService unavailable %.0fs after the kill) Terminating %.0fs, deleted %.1fs after it was back (APIService Available after %.1fs)%s",
			up.Seconds(), unavailable.Seconds(), heldFor.Seconds(), gone.Seconds(), available.Seconds(), keptText)
	default:
		r.figure("namespace deletion: %.1fs with the records server up; deleted %.1fs after being deleted with it down (not held up)%s", up.Seconds(), heldFor.Seconds(), keptText)
	}
	return nil
}

// waitNamespaceGone waits until namespace ns no longer exists.
func (e *RecordsEnv) waitNamespaceGone(ctx context.Context, ns string, timeout time.Duration) error {
	return eventually(ctx, timeout, func() error { return e.namespaceGone(ctx, ns) })
}

// namespaceGone is nil once namespace ns no longer exists.
func (e *RecordsEnv) namespaceGone(ctx context.Context, ns string) error {
	var n corev1.Namespace
	err := e.Cluster.Admin.Get(ctx, client.ObjectKey{Name: ns}, &n)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("namespace %s is still %s: %v", ns, n.Status.Phase, n.Status.Conditions)
}

// waitAPIService waits until the records' APIService is (or is not) Available.
func (e *RecordsEnv) waitAPIService(ctx context.Context, available bool, timeout time.Duration) error {
	return eventually(ctx, timeout, func() error { return e.apiServiceAvailable(ctx, available) })
}

// apiServiceAvailable is nil when the records' APIService is (or is not) Available.
func (e *RecordsEnv) apiServiceAvailable(ctx context.Context, available bool) error {
	svc := &unstructured.Unstructured{}
	svc.SetAPIVersion("apiregistration.k8s.io/v1")
	svc.SetKind("APIService")
	if err := e.Cluster.Admin.Get(ctx, client.ObjectKey{Name: recordsv1alpha1.GroupVersion.Version + "." + recordsv1alpha1.GroupVersion.Group}, svc); err != nil {
		return err
	}
	conds, _, _ := unstructured.NestedSlice(svc.Object, "status", "conditions")
	for _, cond := range conds {
		if m, _ := cond.(map[string]any); m["type"] == "Available" && (m["status"] == "True") == available {
			return nil
		}
	}
	return errors.New("the records' APIService is not " + map[bool]string{true: "Available", false: "unavailable"}[available])
}
