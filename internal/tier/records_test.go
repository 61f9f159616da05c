package tier

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
)

// rolledBack is a partner promoted to gold 100 days ago and demoted to silver
// 10 days ago, with both decisions sealed in place, and the anchor its
// RecordChain holds for each.
func rolledBack(t *testing.T) (p *v1alpha1.Partner, promoted, demoted *v1alpha1.RecordedDecision) {
	t.Helper()
	in := sealedInput(withEvidence(silverEvidence()...))
	p = in.Partner
	for _, d := range []v1alpha1.TierDecision{
		{Time: metav1.NewTime(now.Add(-100 * day)), From: "", To: "gold", Reason: v1alpha1.ReasonPromoted},
		{Time: metav1.NewTime(now.Add(-10 * day)), From: "gold", To: "silver", Reason: v1alpha1.ReasonDemoted},
	} {
		testSeals.NextTier(string(p.UID), p.Status.History, &d)
		p.Status.History = append(p.Status.History, d)
	}
	anchor := func(d v1alpha1.TierDecision) *v1alpha1.RecordedDecision {
		return &v1alpha1.RecordedDecision{Name: record.TierChangeName(p, d), Time: d.Time, SubjectUID: string(p.UID)}
	}
	return p, anchor(p.Status.History[0]), anchor(p.Status.History[1])
}

// TestAStatusBehindItsRecordsExplainsNoTier: rule 7, a sealed decision has one
// place in history. A history whose newest decisions were cut (written past
// the webhooks) still verifies link by link; the partner's RecordChain names
// its newest recorded tier decision, and a history that holds neither it nor a
// sealed decision after it is behind its records.
func TestAStatusBehindItsRecordsExplainsNoTier(t *testing.T) {
	p, promoted, demoted := rolledBack(t)
	full := p.Status.History
	later := v1alpha1.TierDecision{Time: metav1.NewTime(now.Add(-time.Hour)), From: "silver", To: "gold", Reason: v1alpha1.ReasonPromoted}
	testSeals.NextTier(string(p.UID), full, &later)
	latest := v1alpha1.TierDecision{Time: metav1.NewTime(now.Add(-time.Minute)), From: "gold", To: "silver", Reason: v1alpha1.ReasonDemoted}
	testSeals.NextTier(string(p.UID), append(slices.Clone(full), later), &latest)
	forged := later
	forged.Seal = "v1.forged"
	other := *demoted
	other.SubjectUID = "uid-of-an-earlier-acme"
	for name, tc := range map[string]struct {
		history  []v1alpha1.TierDecision
		recorded *v1alpha1.RecordedDecision
		want     bool
	}{
		"the history holding the recorded decision is not behind":                   {full, demoted, false},
		"the newest decision cut is behind":                                         {full[:1], demoted, true},
		"the whole history cut is behind":                                           {nil, demoted, true},
		"a decision after the recorded one (not recorded yet) is not behind":        {append(slices.Clone(full), later), demoted, false},
		"a history trimmed past the recorded one, with a newer one, is not behind":  {[]v1alpha1.TierDecision{later, latest}, demoted, false},
		"an older anchor is not behind":                                             {full, promoted, false},
		"without an anchor nothing is behind":                                       {full[:1], nil, false},
		"an anchor of an earlier partner of the same name holds nothing":            {full[:1], &other, false},
		"a newer decision without a valid seal does not bring the history up to it": {append(slices.Clone(full[:1]), forged), demoted, true},
	} {
		t.Run(name, func(t *testing.T) {
			q := p.DeepCopy()
			q.Status.History = tc.history
			if got := StatusBehindRecords(testSeals, q, tc.recorded); got != tc.want {
				t.Errorf("StatusBehindRecords = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestATierStatusBehindItsRecordsIsDecidedAgainWithoutGrace: the older tier a
// cut history claims (gold, with the grace a later demotion ended) is decided
// again from evidence at once, with reason StatusBehindRecords; the decision
// stored, the next evaluation decides nothing more.
func TestATierStatusBehindItsRecordsIsDecidedAgainWithoutGrace(t *testing.T) {
	p, _, demoted := rolledBack(t)
	p.Status.History = p.Status.History[:1]
	r := rankOf("gold")
	since := metav1.NewTime(now.Add(-100 * day))
	grace := metav1.NewTime(now.Add(20 * day))
	p.Status.Tier, p.Status.TierRank, p.Status.TierSince, p.Status.DemotionDeadline = "gold", &r, &since, &grace
	in := sealedInput()
	in.Partner, in.Recorded = p, demoted

	res := Evaluate(in)
	if res.Status.Tier != "silver" || res.Decision == nil || res.Decision.Reason != v1alpha1.ReasonStatusBehindRecords {
		t.Fatalf("tier %q, decision %s; want silver by %s", res.Status.Tier, describeDecision(res.Decision), v1alpha1.ReasonStatusBehindRecords)
	}
	if res.Status.DemotionDeadline != nil {
		t.Errorf("a status behind its records keeps a grace period until %s", res.Status.DemotionDeadline)
	}
	p.Status = res.Status
	if again := Evaluate(in); again.Decision != nil {
		t.Errorf("the decision made on finding the status behind does not bring it up to its records: %s", describeDecision(again.Decision))
	}
	p, _, _ = rolledBack(t)
	p.Status.History = p.Status.History[:1]
	p.Status.Tier, p.Status.TierRank, p.Status.TierSince, p.Status.DemotionDeadline = "gold", &r, &since, &grace
	in.Partner, in.Recorded = p, nil
	if res := Evaluate(in); res.Decision != nil {
		t.Errorf("without an anchor the cut history is decided again: %s", describeDecision(res.Decision))
	}
}

func rankOf(tier string) int32 { return tierRanks[tier] }
