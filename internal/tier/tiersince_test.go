package tier

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// status.tierSince is not sealed: written forward past the webhooks (with the
// demotion deadline removed), it must not restart a demotion grace. The grace
// counts from no later than the sealed decision that gave the tier.
func TestATierSinceWrittenForwardDoesNotRestartTheGrace(t *testing.T) {
	p, _ := presentPartner(4) // the newest moved the partner to gold, a day ago
	deadline := func(since metav1.Time) *metav1.Time {
		in := sealedInput(holding("gold"), withEvidence(silverEvidence()...))
		in.Partner.Status.History = p.Status.History
		in.Partner.Status.TierSince = &since
		r := Evaluate(in)
		if r.Decision != nil {
			t.Fatalf("decision %s; want a running grace", describeDecision(r.Decision))
		}
		return r.Status.DemotionDeadline
	}
	newest := p.Status.History[len(p.Status.History)-1].Time
	honest, forged := deadline(newest), deadline(metav1.NewTime(now))
	if honest == nil || forged == nil || !forged.Equal(honest) {
		t.Errorf("demotion deadline with tierSince written forward: %v, want %v (the grace restarted)", forged, honest)
	}
}
