package record

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// TestEveryTierDecisionOfAHistoryHasItsOwnRecord: rule 7, a sealed decision
// has one place in history, and one record. A partner whose tier flaps within
// one second (gold -> silver, silver -> gold, gold -> silver, each sealed in
// its place with its own sequence) made three decisions; the third must not
// take the first one's record name: the recorder would find the first one's
// record under it, take it for the third's (record.SameDecision: same second,
// from, to, reason) and never record the third, so the RecordChain's
// newestTierChange stays on the second, and a status cut back to the second
// (gold) is not found behind its records (tier.StatusBehindRecords finds the
// anchor in it).
func TestEveryTierDecisionOfAHistoryHasItsOwnRecord(t *testing.T) {
	p := partner()
	at := metav1.NewTime(t0.Add(300 * 1e6))    // 12:00:00.3
	later := metav1.NewTime(t0.Add(900 * 1e6)) // 12:00:00.9, the same whole second
	// As seal.Keys.NextTier makes them: each after the first carries its
	// predecessor's seal.
	history := []v1alpha1.TierDecision{
		{Time: at, From: "gold", To: "silver", Reason: v1alpha1.ReasonDemoted, Sequence: 1, Seal: "s1"},
		{Time: at, From: "silver", To: "gold", Reason: v1alpha1.ReasonPromoted, Sequence: 2, Seal: "s2", PreviousSeal: "s1"},
		{Time: later, From: "gold", To: "silver", Reason: v1alpha1.ReasonDemoted, Sequence: 3, Seal: "s3", PreviousSeal: "s2"},
		{Time: later, From: "silver", To: "gold", Reason: v1alpha1.ReasonPromoted, Sequence: 4, Seal: "s4", PreviousSeal: "s3"},
	}
	seen := map[string]int{}
	for i, d := range history {
		n := TierChangeName(p, d)
		if j, ok := seen[n]; ok {
			t.Errorf("decisions %d and %d of the history (sequences %d and %d) share record name %s: the later one is never recorded", j, i, history[j].Sequence, d.Sequence, n)
		}
		seen[n] = i
	}
}

// TestATierDecisionMadeBeforePreviousSealKeepsItsRecordName: a decision made
// before decisions carried their predecessor's seal keeps the name its record
// was made under (without its sequence): named anew, every partner's stored
// history would miss its RecordChain's newestTierChange and be taken as cut
// back past its records, and its decisions recorded twice.
func TestATierDecisionMadeBeforePreviousSealKeepsItsRecordName(t *testing.T) {
	p := partner()
	d := v1alpha1.TierDecision{Time: metav1.NewTime(t0), From: "gold", To: "silver", Reason: v1alpha1.ReasonDemoted, Sequence: 7, Seal: "s7"}
	want := name(p.Name+"-tier", string(p.UID), stamp(d.Time.Time), d.From, d.To, d.Reason)
	if got := TierChangeName(p, d); got != want {
		t.Errorf("TierChangeName = %s, want the name of before previousSeal %s", got, want)
	}
}
