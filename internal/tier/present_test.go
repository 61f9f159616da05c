package tier

import (
	"slices"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
)

// presentPartner is a sealed partner with n chained decisions (the i-th made
// n-i days ago; the second is a TierPromotion to gold through request
// "acme-promote-gold"), and the anchor its RecordChain holds for decision i.
func presentPartner(n int) (p *v1alpha1.Partner, anchor func(i int) *v1alpha1.RecordedDecision) {
	p = sealedInput().Partner
	tiers := []string{"silver", "gold"}
	for i := range n {
		d := v1alpha1.TierDecision{Time: metav1.NewTime(now.Add(-time.Duration(n-i) * day)), To: tiers[i%2], Reason: v1alpha1.ReasonDemoted,
			Message: "decision " + strconv.Itoa(i)}
		if i > 0 {
			d.From = tiers[(i-1)%2]
		}
		if i == 1 {
			d.Reason, d.Request = v1alpha1.ReasonPromoted, "acme-promote-gold"
		}
		testSeals.NextTier(string(p.UID), p.Status.History, &d)
		p.Status.History = append(p.Status.History, d)
	}
	return p, func(i int) *v1alpha1.RecordedDecision {
		d := p.Status.History[i]
		return &v1alpha1.RecordedDecision{Name: record.TierChangeName(p, d), Time: d.Time, SubjectUID: string(p.UID)}
	}
}

// Issue 28, item 1: a Partner carries only its present. Past decisions live
// in DecisionRecords; status.history keeps the newest decision, those not
// recorded yet (after the newest recorded one the partner's RecordChain names)
// and those an active TierPromotion grant's marks are read from, at most
// MaxHistory. Without a known recorded decision it keeps what it kept before.
func TestAPartnerCarriesOnlyItsPresent(t *testing.T) {
	p, anchor := presentPartner(6)
	h := p.Status.History
	legacy := slices.Clone(h)
	for i := range legacy {
		legacy[i] = withoutPreviousSeal(legacy[i])
	}
	// The newest decision carries previousSeal, the ones before do not (stored before it existed).
	mixed := append(slices.Clone(legacy[:5]), h[5])
	forged := slices.Clone(h)
	forged[3].Seal = "v1.forged"
	other := anchor(5)
	other.SubjectUID = "uid-of-an-earlier-acme"
	long, longAnchor := presentPartner(v1alpha1.MaxHistory + 4)
	promotion := []Grant{tierPromotion("acme-promote-gold", "gold", at(300*day))}
	for name, tc := range map[string]struct {
		history    []v1alpha1.TierDecision
		recorded   *v1alpha1.RecordedDecision
		promotions []Grant
		want       []v1alpha1.TierDecision
	}{
		"every decision recorded: the newest alone":                     {history: h, recorded: anchor(5), want: h[5:]},
		"the newest recorded and those not recorded yet stay":           {history: h, recorded: anchor(3), want: h[3:]},
		"no recorded decision known: all stay, as before":               {history: h, recorded: nil, want: h},
		"another partner's recorded decision of the same name: all":     {history: h, recorded: other, want: h},
		"a recorded decision the history holds unsealed drops nothing":  {history: forged, recorded: anchor(3), want: forged},
		"decisions without previousSeal keep their predecessors":        {history: legacy, recorded: anchor(5), want: legacy},
		"a newest decision with previousSeal stands alone after them":   {history: mixed, recorded: anchor(5), want: mixed[5:]},
		"an active promotion keeps the decisions its marks come from":   {history: h, recorded: anchor(5), promotions: promotion, want: h[1:]},
		"more not recorded than MaxHistory: the newest MaxHistory stay": {history: long.Status.History, recorded: longAnchor(1), want: long.Status.History[4:]},
	} {
		t.Run(name, func(t *testing.T) {
			got := Present(testSeals, p, tc.history, tc.recorded, tc.promotions)
			if !slices.EqualFunc(got, tc.want, func(a, b v1alpha1.TierDecision) bool { return a.Seal == b.Seal && a.Message == b.Message }) {
				t.Errorf("kept %d decisions %v, want %d %v", len(got), messages(got), len(tc.want), messages(tc.want))
			}
			if n := len(got); n > 0 && !testSeals.TierSealed(string(p.UID), got, 0) && tc.history[len(tc.history)-n].PreviousSeal != "" {
				t.Errorf("the oldest kept decision does not verify alone")
			}
		})
	}
}

func messages(h []v1alpha1.TierDecision) []string {
	var out []string
	for _, d := range h {
		out = append(out, d.Message)
	}
	return out
}

// Issue 28, item 1, through the engine: a decision made with the decisions
// before it recorded leaves the history holding only the present, the new
// decision explains the tier alone, and evaluating again changes nothing.
func TestTheEngineWritesOnlyThePresent(t *testing.T) {
	p, anchor := presentPartner(4) // the newest moved the partner to gold
	in := sealedInput(holding("gold"), withEvidence(silverEvidence()...))
	in.Partner.Status.History = p.Status.History
	in.NewestRecorded = anchor(2) // written ahead in the head: its record may not exist yet
	in.Partner.Status.DemotionDeadline = &metav1.Time{Time: now.Add(-time.Hour)}
	r := Evaluate(in)
	if r.Decision == nil || r.Decision.Reason != v1alpha1.ReasonDemoted || r.Status.Tier != "silver" {
		t.Fatalf("tier %q, decision %s; want a demotion to silver", r.Status.Tier, describeDecision(r.Decision))
	}
	h := r.Status.History
	if len(h) != 3 || h[0].Seal != p.Status.History[2].Seal || h[2].Seal != r.Decision.Seal {
		t.Fatalf("history %v, want the recorded decision the head names, the unrecorded one and the new one", messages(h))
	}
	if !TierExplained(testSeals, p.UID, "silver", h[2:]) {
		t.Errorf("the new decision does not explain the tier alone")
	}
	again := in
	again.Partner = in.Partner.DeepCopy()
	again.Partner.Status = r.Status
	if r2 := Evaluate(again); r2.Decision != nil || len(r2.Status.History) != 3 {
		t.Errorf("evaluating again: decision %s, %d decisions kept", describeDecision(r2.Decision), len(r2.Status.History))
	}
	// Once the new decision is recorded, dropping the older ones is no write
	// of its own: with no decision the history stays as stored.
	again.NewestRecorded = &v1alpha1.RecordedDecision{Name: record.TierChangeName(again.Partner, h[2]), Time: h[2].Time, SubjectUID: string(p.UID)}
	if r3 := Evaluate(again); r3.Decision != nil || len(r3.Status.History) != 3 {
		t.Errorf("with the new decision recorded and no decision: decision %s, history %v, want it as stored", describeDecision(r3.Decision), messages(r3.Status.History))
	}
}

// Issue 28: shedding recorded decisions rides on the next decision's write,
// never a status write of its own (which would double the writes of every
// decision): the next decision leaves the recorded one it follows and itself.
func TestTheHistoryShedsWhatIsRecordedWithTheNextDecisionOnly(t *testing.T) {
	p, _ := presentPartner(4) // the newest moved the partner to gold
	in := sealedInput(holding("gold"), withEvidence(goldEvidence()...))
	in.Partner.Status.History = p.Status.History
	newest := p.Status.History[3]
	in.NewestRecorded = &v1alpha1.RecordedDecision{Name: record.TierChangeName(in.Partner, newest), Time: newest.Time, SubjectUID: string(p.UID)}
	if r := Evaluate(in); r.Decision != nil || len(r.Status.History) != 4 {
		t.Fatalf("no decision: decision %s, history %v, want the 4 stored (no write only to drop recorded ones)", describeDecision(r.Decision), messages(r.Status.History))
	}
	demote := sealedInput(holding("gold"), withEvidence(silverEvidence()...))
	demote.Partner.Status.History, demote.NewestRecorded = p.Status.History, in.NewestRecorded
	demote.Partner.Status.DemotionDeadline = &metav1.Time{Time: now.Add(-time.Hour)}
	r := Evaluate(demote)
	if r.Decision == nil || len(r.Status.History) != 2 || r.Status.History[0].Seal != newest.Seal || r.Status.History[1].Seal != r.Decision.Seal {
		t.Errorf("with a decision: decision %s, history %v, want the recorded newest and the new one", describeDecision(r.Decision), messages(r.Status.History))
	}
}

// Issue 28, item 1: a decision verifies alone, so a history replaced by ONE
// older sealed decision explains its tier; the partner's RecordChain names a
// newer recorded decision, so the history is behind its records and the tier
// is decided again at once.
func TestOneOlderSealedDecisionAloneIsBehindItsRecords(t *testing.T) {
	p, anchor := presentPartner(5)
	older := p.Status.History[3:4] // to gold
	if !TierExplained(testSeals, p.UID, older[0].To, older) {
		t.Fatalf("an older sealed decision alone does not verify: the replay this test is about cannot happen")
	}
	in := sealedInput(holding("gold"), withEvidence(silverEvidence()...))
	in.Partner.Status.Tier, in.Partner.Status.History = older[0].To, older
	if !StatusBehindRecords(testSeals, in.Partner, anchor(4)) {
		t.Fatalf("a history of one older decision is not behind the newer recorded one")
	}
	in.Recorded, in.NewestRecorded = anchor(4), anchor(4)
	if r := Evaluate(in); r.Decision == nil || r.Decision.Reason != v1alpha1.ReasonStatusBehindRecords {
		t.Errorf("decision %s; want one through StatusBehindRecords", describeDecision(r.Decision))
	}
}

// Issue 28, item 1: while a TierPromotion grant is active, status.history
// keeps the decisions its applied and spent marks are read back from, every
// one of them recorded or not, so a status that then loses the spent mark
// still does not promote again without review.
func TestHistoryKeepsWhatAnActivePromotionsMarksAreReadFrom(t *testing.T) {
	const uid = "uid-acme"
	var history []v1alpha1.TierDecision
	for _, d := range []v1alpha1.TierDecision{
		{Time: metav1.NewTime(now.Add(-200 * day)), To: "gold", Reason: v1alpha1.ReasonPromoted},
		{Time: metav1.NewTime(now.Add(-100 * day)), From: "gold", To: "platinum", Reason: v1alpha1.ReasonPromoted, Request: "acme-promote-platinum"},
		{Time: metav1.NewTime(now.Add(-10 * day)), From: "platinum", To: "gold", Reason: v1alpha1.ReasonDemoted},
	} {
		testSeals.NextTier(uid, history, &d)
		history = append(history, d)
	}
	in := sealedInput(holding("gold"), withEvidence(platinumEvidence()...),
		withGrant(tierPromotion("acme-promote-platinum", "platinum", at(300*day))))
	in.Partner.Status.History = history
	in.NewestRecorded = &v1alpha1.RecordedDecision{Name: record.TierChangeName(in.Partner, history[2]), Time: history[2].Time, SubjectUID: uid}
	// What the next decision's write keeps (Present runs with a decision).
	promotions := []Grant{tierPromotion("acme-promote-platinum", "platinum", at(300*day))}
	kept := Present(testSeals, in.Partner, history, in.NewestRecorded, promotions)
	if len(kept) != 2 || kept[0].Request != "acme-promote-platinum" {
		t.Fatalf("history %d decisions: want the promotion and the demotion kept", len(kept))
	}
	r := Evaluate(in)
	if r.Decision != nil {
		t.Fatalf("decision %s, want none", describeDecision(r.Decision))
	}
	// The spent mark lost from the stored grant: the kept history still shows it.
	again := in
	again.Partner = in.Partner.DeepCopy()
	again.Partner.Status = r.Status
	again.Partner.Status.History = kept
	again.Partner.Status.Grants = nil
	if r2 := Evaluate(again); r2.Status.Tier != "gold" || r2.Decision != nil {
		t.Fatalf("tier %q, decision %s: a spent approval promoted the partner again", r2.Status.Tier, describeDecision(r2.Decision))
	}
	// Once the grant is no longer active, the newest decision alone stays.
	if n := len(Present(testSeals, again.Partner, kept, in.NewestRecorded, nil)); n != 1 {
		t.Errorf("without an active promotion, %d decisions kept, want 1", n)
	}
}

// Issue 28, item 1: dropping decisions that are recorded (before the newest
// recorded one the partner's RecordChain names, which it names once its record
// is written ahead) waits for no record, even while a newer decision's record
// is not made yet; dropping one not recorded yet still waits (TrimWaitsFor).
func TestDroppingRecordedDecisionsWaitsForNothing(t *testing.T) {
	p, anchor := presentPartner(4)
	stored := p.Status.History
	next := append(slices.Clone(stored[2:]), stored[3]) // stands for stored[2:] and a new decision
	all := func(int) bool { return true }
	for name, tc := range map[string]struct {
		recorded *v1alpha1.RecordedDecision
		next     []v1alpha1.TierDecision
		want     int
	}{
		"dropping decisions before the recorded one waits for nothing": {recorded: anchor(2), next: next, want: -1},
		"dropping one not recorded yet waits for the newest":           {recorded: anchor(0), next: next, want: 3},
		"no recorded decision known: a drop waits, as before":          {recorded: nil, next: next, want: 3},
		// The head names a decision once its record is written ahead, before it exists.
		"dropping the recorded one itself waits for the newest": {recorded: anchor(2), next: stored[3:], want: 3},
	} {
		t.Run(name, func(t *testing.T) {
			if got := TrimWaitsFor(stored, tc.next, NotYetRecorded(testSeals, p, stored, tc.recorded, all)); got != tc.want {
				t.Errorf("TrimWaitsFor = %d, want %d", got, tc.want)
			}
		})
	}
}
