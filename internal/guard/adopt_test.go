package guard

import (
	"strings"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// Adoption: when sealing is turned on, the controller seals, once, what was
// stored before. The guards let it add a seal that verifies to an entry that
// has none, and nothing else.
func TestOnlyTheControllerAddsAVerifyingSealToAnUnsealedEntry(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	other, _ := seal.New([]byte(strings.Repeat("o", 32)))
	controller := Writer{Username: ctrlr, Controller: true, Seals: keys}
	bare := entry("revenue", "100", crm, "serviceaccount:integrations/crm-sync")
	sealedBy := func(k *seal.Keys) v1alpha1.EvidenceEntry {
		e := bare
		e.Seal = k.Sign(seal.Evidence("uid-acme", bare)...)
		return e
	}
	stored := func(e v1alpha1.EvidenceEntry) *v1alpha1.Partner {
		p := partner(e)
		p.UID = "uid-acme"
		return p
	}
	for name, tc := range map[string]struct {
		old, new v1alpha1.EvidenceEntry
		writer   Writer
		wantSeal string
	}{
		"the controller seals an unsealed entry":      {bare, sealedBy(keys), controller, sealedBy(keys).Seal},
		"a seal under another key is dropped":         {bare, sealedBy(other), controller, ""},
		"an integration cannot add a seal":            {bare, sealedBy(keys), Writer{Username: crm, Seals: keys}, ""},
		"the controller cannot replace a stored seal": {sealedBy(keys), sealedBy(other), controller, sealedBy(keys).Seal},
		"the controller cannot remove a stored seal":  {sealedBy(keys), bare, controller, sealedBy(keys).Seal},
		"with sealing off nothing is added":           {bare, sealedBy(keys), Writer{Username: ctrlr, Controller: true}, ""},
	} {
		t.Run("evidence: "+name, func(t *testing.T) {
			got, refusal := PartnerStatus(stored(tc.old), stored(tc.new), program(), tc.writer, now)
			if refusal != nil {
				t.Fatalf("refused: %s", refusal.Message)
			}
			if got.Evidence[0].Seal != tc.wantSeal {
				t.Errorf("stored seal %q, want %q", got.Evidence[0].Seal, tc.wantSeal)
			}
		})
	}

	d := v1alpha1.ReviewDecision{Stage: "finance", Decision: v1alpha1.DecisionApprove, Rationale: "budget fits", Reviewer: "casey"}
	decisionSealedBy := func(k *seal.Keys, d v1alpha1.ReviewDecision) v1alpha1.ReviewDecision {
		d.Seal = k.Sign(seal.Decision("uid-q", 0, d)...)
		return d
	}
	changed := d
	changed.Decision = v1alpha1.DecisionDeny
	withUID := func(q *v1alpha1.ExceptionRequest) *v1alpha1.ExceptionRequest {
		q.UID = "uid-q"
		return q
	}
	for name, tc := range map[string]struct {
		old, new   v1alpha1.ReviewDecision
		writer     Writer
		wantRefuse bool
	}{
		"the controller seals an unsealed decision":        {d, decisionSealedBy(keys, d), controller, false},
		"a seal under another key is refused":              {d, decisionSealedBy(other, d), controller, true},
		"the controller cannot change a decision it seals": {d, decisionSealedBy(keys, changed), controller, true},
		"the controller cannot reseal a sealed decision":   {decisionSealedBy(other, d), decisionSealedBy(keys, d), controller, true},
		"with sealing off the controller adds no seal":     {d, decisionSealedBy(keys, d), Writer{Username: ctrlr, Controller: true}, true},
	} {
		t.Run("decision: "+name, func(t *testing.T) {
			got, _, refusal := RequestStatus(withUID(request(tc.old)), withUID(request(tc.new)), tc.writer, "", now)
			if tc.wantRefuse {
				if refusal == nil || !strings.Contains(refusal.Message, "does not write review decisions") {
					t.Fatalf("refusal = %v, want the controller refused", refusal)
				}
				return
			}
			if refusal != nil {
				t.Fatalf("refused: %s", refusal.Message)
			}
			if got.Decisions[0].Seal != tc.new.Seal {
				t.Errorf("stored seal %q, want %q", got.Decisions[0].Seal, tc.new.Seal)
			}
		})
	}
}
