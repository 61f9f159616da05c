package tier

import (
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// Current returns the partner's current, trusted value of each metric, as
// Evaluate counts it (rule 1): reported entries that the catalog still trusts,
// that are sealed (when sealing is on) and fresh at in.Now, and the computed
// Deals metrics. Metrics without such a value are absent. Other rules that read
// evidence (onboarding steps, probationAbove) use it, so every rule reads the
// same evidence.
func Current(in Input) map[string]v1alpha1.Decimal {
	if in.Partner == nil || in.Program == nil {
		return nil
	}
	uid := string(in.Partner.UID)
	ev := sortEvidence(in.Partner.Status.Evidence, in.Computed, catalogOf(in.Program), in.Now.Round(0), func(e v1alpha1.EvidenceEntry) bool {
		return in.Seals.Verify(e.Seal, seal.Evidence(uid, e)...)
	})
	out := make(map[string]v1alpha1.Decimal, len(ev.counted))
	for m, c := range ev.counted {
		out[m] = c.Value
	}
	return out
}
