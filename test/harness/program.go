package harness

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Program is the load's program: six evidence metrics (three Outcome, one Risk,
// two Enablement) and four tiers, the shape of config/samples.
const Program = "bench"

// Reporter is the integration identity that reports every metric; ReporterGroup trusts it.
const (
	Reporter      = "bench-crm"
	ReporterGroup = "partnergov:bench-reporters"
)

// Tiers are the load's tier names by rank.
var Tiers = []string{"bench-registered", "bench-select", "bench-advanced", "bench-premier"}

// tierEvidence is, by rank, evidence that qualifies for exactly that tier.
// "training" (Enablement) counts for no tier: changing it changes no decision.
var tierEvidence = [][]string{
	// revenue, influenced, csat, escalations, certified
	{"50000", "0", "3.1", "5", "1"},
	{"200000", "0", "4.0", "5", "3"},
	{"800000", "1000000", "4.3", "2", "6"},
	{"2500000", "6000000", "4.7", "0", "12"},
}

var metricNames = []string{"revenue", "influenced", "csat", "escalations", "certified", "training"}

// InstallProgram creates the program, its tiers and the reporter's RBAC.
func (c *Cluster) InstallProgram(ctx context.Context) error {
	trusted := v1alpha1.Identities{Groups: []string{ReporterGroup}}
	metric := func(name string, class v1alpha1.MetricClass, unit string) v1alpha1.MetricDefinition {
		return v1alpha1.MetricDefinition{Name: name, Class: class, Unit: unit,
			FreshnessWindow: metav1.Duration{Duration: 90 * 24 * time.Hour}, TrustedReporters: trusted}
	}
	objs := []client.Object{
		&v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: Program}, Spec: v1alpha1.PartnerProgramSpec{
			Owner: "bench@example.com",
			Metrics: []v1alpha1.MetricDefinition{
				metric("revenue", v1alpha1.MetricClassOutcome, "USD"),
				metric("influenced", v1alpha1.MetricClassOutcome, "USD"),
				metric("csat", v1alpha1.MetricClassOutcome, "score"),
				metric("escalations", v1alpha1.MetricClassRisk, "count"),
				metric("certified", v1alpha1.MetricClassEnablement, "count"),
				metric("training", v1alpha1.MetricClassEnablement, "count"),
			},
		}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "bench-reporters"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"partners/status"}, Verbs: []string{"get", "patch"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bench-reporters"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "bench-reporters"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: ReporterGroup}}},
	}
	at := func(m, op, v string) v1alpha1.TierRequirement {
		return v1alpha1.TierRequirement{Metric: m, Operator: v1alpha1.ComparisonOperator(op), Threshold: v1alpha1.Decimal(v)}
	}
	ge, le := "GreaterThanOrEqual", "LessThanOrEqual"
	reqs := [][]v1alpha1.TierRequirement{
		nil,
		{at("revenue", ge, "100000"), at("certified", ge, "2")},
		{at("revenue", ge, "500000"), at("csat", ge, "4.2"), at("escalations", le, "3"), at("certified", ge, "5")},
		{at("revenue", ge, "2000000"), at("influenced", ge, "5000000"), at("csat", ge, "4.5"), at("escalations", le, "1"), at("certified", ge, "10")},
	}
	for rank, name := range Tiers {
		ent := v1alpha1.Entitlements{Resell: true}
		if rank > 0 {
			ent.Implement, ent.List = true, true
		}
		objs = append(objs, &v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.PartnerTierSpec{
			Program: Program, Rank: int32(rank), Requirements: reqs[rank], Entitlements: ent,
			DemotionGracePeriod: &metav1.Duration{Duration: 0},
		}})
	}
	for _, o := range objs {
		if err := c.Admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// PartnerName is the i-th partner's name.
func PartnerName(i int) string { return fmt.Sprintf("p-%05d", i) }

// CreatePartners creates partners 0..n-1 in namespace with `workers` at once.
func (c *Cluster) CreatePartners(ctx context.Context, namespace string, n, workers int) error {
	return Parallel(ctx, n, workers, func(ctx context.Context, i int) error {
		return c.Admin.Create(ctx, &v1alpha1.Partner{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: PartnerName(i)},
			Spec:       v1alpha1.PartnerSpec{Program: Program, Type: v1alpha1.PartnerTypeGSI, Owner: "owner@example.com"},
		})
	})
}

// ReportEvidence server-side-applies, as the reporter (field manager Reporter),
// evidence that qualifies the partner for Tiers[rank]; seq goes into the
// "training" metric, so a new seq is a real write that changes no decision.
func ReportEvidence(ctx context.Context, reporter client.Client, namespace, partner string, rank, seq int) error {
	now := time.Now().UTC().Format(time.RFC3339)
	values := append(append([]string(nil), tierEvidence[rank]...), strconv.Itoa(seq))
	entries := make([]any, len(metricNames))
	for i, m := range metricNames {
		entries[i] = map[string]any{"metric": m, "value": values[i], "observedAt": now}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "Partner",
		"metadata": map[string]any{"name": partner, "namespace": namespace},
		"status":   map[string]any{"evidence": entries},
	}}
	return reporter.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(Reporter), client.ForceOwnership)
}

// ReporterClient is the reporter's client, limited to qps and burst (0: unlimited).
func (c *Cluster) ReporterClient(qps float32, burst int) (client.Client, error) {
	return c.UserClient(qps, burst, Reporter, ReporterGroup)
}

// Parallel runs f(0..n-1) on `workers` goroutines and returns the first error.
func Parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
