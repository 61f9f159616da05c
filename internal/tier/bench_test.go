package tier

import (
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// BenchmarkEvaluate evaluates a gold partner at risk, with a pending promotion and an
// incentive grant, against a catalog of 6 metrics and a ladder of 4 tiers.
func BenchmarkEvaluate(b *testing.B) {
	in := input(holding("platinum"), withEvidence(goldEvidence()...),
		withEvidence(
			reportedBy(entry("deal-registrations", "40"), "group:partnergov:crm", "crm-bridge@example.com"),
			reportedBy(entry("csat", "4.6"), "user:crm-sync@example.com", "crm-sync@example.com")),
		withGrant(incentive("a-cosell", at(30*day), v1alpha1.EntitlementCoSell)),
		withGrant(tierPromotion("b-platinum", "platinum", nil)),
		withCondition(v1alpha1.ConditionReady, "True", v1alpha1.ReasonReconciled, day))
	in.Program.Spec.Metrics = append(in.Program.Spec.Metrics,
		metric("deal-registrations", v1alpha1.MetricClassOutcome, 90*day, v1alpha1.Identities{Groups: []string{"partnergov:crm"}}),
		metric("csat", v1alpha1.MetricClassOutcome, 180*day, v1alpha1.Identities{Users: []string{"crm-sync@example.com"}}))
	if len(in.Program.Spec.Metrics) != 6 || len(in.Tiers) != 4 {
		b.Fatalf("fixture has %d metrics and %d tiers, want 6 and 4", len(in.Program.Spec.Metrics), len(in.Tiers))
	}
	if r := Evaluate(in); !conditionsTrue(r, v1alpha1.ConditionEvidenceTrusted) {
		b.Fatalf("fixture evidence is not all trusted: %+v", r.Status.Conditions)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Evaluate(in)
	}
}

func conditionsTrue(r Result, typ string) bool {
	c := findCondition(r.Status.Conditions, typ)
	return c != nil && c.Status == "True"
}
