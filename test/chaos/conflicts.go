package chaos

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// ConflictsConfig sizes Conflicts.
type ConflictsConfig struct {
	Partners int
	// Duration of the write storm.
	Duration time.Duration
	// Writers per integration (each takes a share of the partners).
	Writers int
	Timeout time.Duration
}

// integration is one reporting system: its identity, field manager and the one
// metric the program trusts it for. The status guard lets only an entry's
// reporter change it, and server-side apply merges evidence by metric, so each
// integration owns its entries and no two of them write the same one.
type integration struct {
	user, fieldManager, metric string
	class                      v1alpha1.MetricClass
}

var integrations = []integration{
	{"crm-sync@chaos", "crm", "revenue", v1alpha1.MetricClassOutcome},
	{"survey-sync@chaos", "survey", "csat", v1alpha1.MetricClassOutcome},
	{"support-sync@chaos", "support", "escalations", v1alpha1.MetricClassRisk},
	{"lms-sync@chaos", "lms", "certified", v1alpha1.MetricClassEnablement},
}

const (
	conflictsProgram = "chaos-conflicts"
	conflictsBase    = "chaos-conflicts-base"
	conflictsGold    = "chaos-conflicts-gold"
	goldRevenue      = 1000000
)

// revenueValue alternates between gold and base revenue, so that every CRM write
// changes the partner's tier and the controller writes status as often as it can.
func revenueValue(seq int) string {
	if seq%2 == 0 {
		return strconv.Itoa(goldRevenue + seq)
	}
	return strconv.Itoa(seq)
}

// Conflicts has four integrations (distinct identities and field managers, each
// trusted for its own metric) server-side-apply evidence to N partners as fast as
// they can for the duration, retrying what is refused, while the controller
// writes status (every CRM write flips the partner's tier). At the end each
// integration's last acknowledged value must be the stored one, reported by it,
// and each partner must hold the tier its final revenue gives.
func (e *Env) Conflicts(ctx context.Context, c ConflictsConfig) Result {
	return runScenario(Result{Scenario: "conflicts: SSA evidence storm vs status writes",
		Size: fmt.Sprintf("%d integrations x %d partners, %s", len(integrations), c.Partners, c.Duration)}, func(r *Result) error { return e.conflicts(ctx, c, r) })
}

func (e *Env) conflicts(ctx context.Context, c ConflictsConfig, r *Result) error {
	const ns = "chaos-conflicts"
	cl := e.Cluster
	m, err := e.startManager(ctx, "conflicts")
	if err != nil {
		return err
	}
	defer m.Stop()
	if err := waitLeading(ctx, m, time.Minute); err != nil {
		return err
	}
	var metrics []v1alpha1.MetricDefinition
	var clients []client.Client
	for _, in := range integrations {
		metrics = append(metrics, v1alpha1.MetricDefinition{Name: in.metric, Class: in.class, Unit: "count",
			FreshnessWindow: metav1.Duration{Duration: 90 * 24 * time.Hour}, TrustedReporters: v1alpha1.Identities{Users: []string{in.user}}})
		cc, err := e.user(ctx, in.user, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group},
			Resources: []string{"partners/status"}, Verbs: []string{"get", "patch"}})
		if err != nil {
			return err
		}
		clients = append(clients, cc)
	}
	objs := []client.Object{
		&v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: conflictsProgram},
			Spec: v1alpha1.PartnerProgramSpec{Owner: "chaos@example.com", Metrics: metrics}},
		&v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: conflictsBase}, Spec: v1alpha1.PartnerTierSpec{
			Program: conflictsProgram, Rank: 0, Entitlements: v1alpha1.Entitlements{Resell: true}, DemotionGracePeriod: &metav1.Duration{}}},
		&v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: conflictsGold}, Spec: v1alpha1.PartnerTierSpec{
			Program: conflictsProgram, Rank: 1, Entitlements: v1alpha1.Entitlements{Resell: true, Implement: true},
			DemotionGracePeriod: &metav1.Duration{},
			Requirements: []v1alpha1.TierRequirement{{Metric: "revenue", Operator: v1alpha1.OperatorGreaterThanOrEqual,
				Threshold: v1alpha1.Decimal(strconv.Itoa(goldRevenue))}}}},
	}
	for _, o := range objs {
		if err := client.IgnoreAlreadyExists(cl.Admin.Create(ctx, o)); err != nil {
			return fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}
	if err := cl.Namespace(ctx, ns); err != nil {
		return err
	}
	names := make([]string, c.Partners)
	for i := range names {
		names[i] = fmt.Sprintf("c-%04d", i)
		p := &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names[i]},
			Spec: v1alpha1.PartnerSpec{Program: conflictsProgram, Type: v1alpha1.PartnerTypeGSI, Owner: "owner@example.com"}}
		if err := client.IgnoreAlreadyExists(cl.Admin.Create(ctx, p)); err != nil {
			return err
		}
	}
	before, err := m.Metrics()
	if err != nil {
		return err
	}

	// last[i][p] is integration i's last acknowledged value for partner p.
	last := make([][]string, len(integrations))
	var writes, refused atomic.Int64
	deadline := time.Now().Add(c.Duration)
	var wg sync.WaitGroup
	errs := make(chan error, len(integrations)*c.Writers)
	for i, in := range integrations {
		last[i] = make([]string, c.Partners)
		for w := range c.Writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				seq := 0
				for time.Now().Before(deadline) {
					for p := w; p < c.Partners; p += c.Writers {
						seq++
						value := strconv.Itoa(seq)
						if in.metric == "revenue" {
							value = revenueValue(seq)
						}
						// A write that fails is retried until it is acknowledged,
						// so the last acknowledged value is the last one sent.
						err := retry(ctx, c.Timeout, func() error {
							err := applyEvidence(ctx, clients[i], in, ns, names[p], value)
							if err != nil {
								refused.Add(1)
							}
							return err
						})
						if err != nil {
							errs <- fmt.Errorf("%s on %s: %w", in.user, names[p], err)
							return
						}
						writes.Add(1)
						last[i][p] = value
						if !time.Now().Before(deadline) {
							break
						}
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	// The controller catches up with the last revenue.
	var tierErr error
	_ = eventually(ctx, c.Timeout, func() error {
		ps, err := partnerList(ctx, cl.Admin, ns)
		if err != nil {
			return err
		}
		r.DecisionsLost = 0
		tierErr = nil
		for p, name := range names {
			rev, _ := strconv.Atoi(last[0][p])
			want := conflictsBase
			if rev >= goldRevenue {
				want = conflictsGold
			}
			if got := ps[name].Status.Tier; got != want {
				r.DecisionsLost++
				tierErr = fmt.Errorf("partner %s holds %q, its last revenue %s gives %q", name, got, last[0][p], want)
			}
		}
		return tierErr
	})
	after, err := m.Metrics()
	if err != nil {
		return err
	}
	ps, err := partnerList(ctx, cl.Admin, ns)
	if err != nil {
		return err
	}
	for p, name := range names {
		stored := map[string]v1alpha1.EvidenceEntry{}
		for _, ev := range ps[name].Status.Evidence {
			stored[ev.Metric] = ev
		}
		for i, in := range integrations {
			ev, ok := stored[in.metric]
			if !ok || string(ev.Value) != last[i][p] || ev.Source != in.user {
				r.EvidenceLost++
			}
		}
	}
	w := after.Writes().Sub(before.Writes())
	n := writes.Load()
	r.figure("%d evidence writes acknowledged (%.0f/s), %d refused and retried", n, float64(n)/c.Duration.Seconds(), refused.Load())
	r.figure("%.0f controller object writes meanwhile (%s)", w.Objects, byResource(w.ByResource))
	if w.Objects == 0 {
		r.fail("the controller wrote no status during the storm")
	}
	return nil
}

// applyEvidence server-side-applies one evidence entry as the integration.
func applyEvidence(ctx context.Context, c client.Client, in integration, ns, partner, value string) error {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "Partner",
		"metadata": map[string]any{"name": partner, "namespace": ns},
		"status": map[string]any{"evidence": []any{map[string]any{
			"metric": in.metric, "value": value, "observedAt": time.Now().UTC().Format(time.RFC3339),
		}}},
	}}
	return c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(in.fieldManager), client.ForceOwnership)
}

// byResource lists write counts as "verb resource=n", sorted, skipping zeros.
func byResource(m map[string]float64) string {
	var parts []string
	for k, v := range m {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%.0f", k, v))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
