package seal

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var (
	keyA = []byte(strings.Repeat("a", 32))
	keyB = []byte(strings.Repeat("b", 32))
)

func entry() v1alpha1.EvidenceEntry {
	return v1alpha1.EvidenceEntry{Metric: "revenue", Value: "250000", ObservedAt: metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)),
		Source: "system:serviceaccount:crm:sync", TrustedVia: "serviceaccount:crm/sync"}
}

func approvedOutcome() v1alpha1.RequestOutcome {
	return v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseApproved, Time: metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)), Reason: v1alpha1.ReasonQuorumReached}
}

func withPhase(o v1alpha1.RequestOutcome, p v1alpha1.RequestPhase) v1alpha1.RequestOutcome {
	o.Phase = p
	return o
}

func at(o v1alpha1.RequestOutcome, d time.Duration) v1alpha1.RequestOutcome {
	o.Time = metav1.NewTime(o.Time.Add(d))
	return o
}

func TestSeals(t *testing.T) {
	a, _ := New(keyA)
	rotated, _ := New(keyB, keyA)
	b, _ := New(keyB)
	sealed := a.Sign(Evidence("uid-1", entry())...)
	changed := entry()
	changed.Value = "2500000"
	tests := map[string]struct {
		keys  *Keys
		seal  string
		parts []string
		want  bool
	}{
		"a seal verifies what it sealed":                {a, sealed, Evidence("uid-1", entry()), true},
		"a changed value does not verify":               {a, sealed, Evidence("uid-1", changed), false},
		"another partner's entry does not verify":       {a, sealed, Evidence("uid-2", entry()), false},
		"no seal does not verify":                       {a, "", Evidence("uid-1", entry()), false},
		"another key does not verify":                   {b, sealed, Evidence("uid-1", entry()), false},
		"a previous key still verifies after rotation":  {rotated, sealed, Evidence("uid-1", entry()), true},
		"sealing off accepts everything":                {nil, "", Evidence("uid-1", entry()), true},
		"parts cannot be shifted between fields":        {a, a.Sign("ab", "c"), []string{"a", "bc"}, false},
		"a decision seal does not verify as a tier one": {a, a.Sign(Decision("u", 0, v1alpha1.ReviewDecision{})...), Tier("u", v1alpha1.TierDecision{}, ""), false},
		"a request's Approved outcome verifies":         {a, a.Sign(RequestOutcome("u", approvedOutcome())...), RequestOutcome("u", approvedOutcome()), true},
		"an Approved outcome does not verify as Denied": {a, a.Sign(RequestOutcome("u", approvedOutcome())...), RequestOutcome("u", withPhase(approvedOutcome(), v1alpha1.PhaseDenied)), false},
		"another request's outcome does not verify":     {a, a.Sign(RequestOutcome("u", approvedOutcome())...), RequestOutcome("v", approvedOutcome()), false},
		"an outcome at another time does not verify":    {a, a.Sign(RequestOutcome("u", approvedOutcome())...), RequestOutcome("u", at(approvedOutcome(), time.Hour)), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.keys.Verify(tc.seal, tc.parts...); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAdoptionAcceptsOnlyWhatHasNoSeal(t *testing.T) {
	a, _ := New(keyA)
	b, _ := New(keyB)
	parts := Evidence("uid-1", entry())
	a.SetAdopting(true)
	if !a.Verify("", parts...) {
		t.Error("while adopting, an entry with no seal is not accepted")
	}
	if a.Verify(b.Sign(parts...), parts...) {
		t.Error("while adopting, a seal under another key is accepted")
	}
	a.SetAdopting(false)
	if a.Verify("", parts...) {
		t.Error("once adopted, an entry with no seal is still accepted")
	}
}

func TestGeneratedKeysParse(t *testing.T) {
	k1, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := Generate()
	if k1 == k2 {
		t.Fatal("two generated keys are equal")
	}
	keys, err := Parse([]byte(k1 + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.current) != 32 {
		t.Errorf("a generated key parses to %d bytes, want 32", len(keys.current))
	}
}

func TestParse(t *testing.T) {
	k, err := Parse([]byte("# current first\n" + string(keyB) + "\n\n" + string(keyA) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := New(keyA)
	if !k.Verify(old.Sign("x"), "x") {
		t.Error("a key listed second does not verify as a previous key")
	}
	if _, err := Parse([]byte("short\n")); err == nil {
		t.Error("a key under 32 bytes was accepted")
	}
	if _, err := Parse([]byte("# nothing\n")); err == nil {
		t.Error("a file without a key was accepted")
	}
}

func TestAdoptionSealsWhatHasNoSealAndLeavesTheRest(t *testing.T) {
	k, _ := New(keyA)
	other, _ := New(keyB)
	forged := entry()
	forged.Metric, forged.Seal = "pipeline", "v1.forged"
	p := &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{UID: "uid-p"}, Status: v1alpha1.PartnerStatus{
		Evidence:  []v1alpha1.EvidenceEntry{entry(), forged},
		History:   []v1alpha1.TierDecision{{Time: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), To: "select"}},
		Lifecycle: &v1alpha1.PartnerLifecycle{Phase: v1alpha1.LifecycleActive, OnboardedAt: &metav1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}}
	if !k.AdoptPartner(p) {
		t.Fatal("AdoptPartner sealed nothing")
	}
	if !k.LifecycleSealed(p) {
		t.Error("the unsealed lifecycle is not sealed")
	}
	if !k.Verify(p.Status.Evidence[0].Seal, Evidence("uid-p", p.Status.Evidence[0])...) {
		t.Error("the unsealed evidence entry is not sealed")
	}
	if p.Status.Evidence[1].Seal != "v1.forged" {
		t.Error("an entry with a bad seal was resealed: adoption must not launder it")
	}
	if !k.Verify(p.Status.History[0].Seal, TierAt("uid-p", p.Status.History, 0)...) {
		t.Error("the unsealed tier decision is not sealed")
	}
	if k.AdoptPartner(p) {
		t.Error("a second adoption sealed something again")
	}
	if other.Verify(p.Status.Evidence[0].Seal, Evidence("uid-p", p.Status.Evidence[0])...) {
		t.Error("adoption sealed with a key it was not given")
	}

	q := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{UID: "uid-q"}, Status: v1alpha1.ExceptionRequestStatus{
		Decisions: []v1alpha1.ReviewDecision{{Stage: "manager", Decision: v1alpha1.DecisionApprove, Reviewer: "alice"}, {Stage: "finance", Seal: "v1.forged"}},
	}}
	if !k.AdoptRequest(q) || !k.Verify(q.Status.Decisions[0].Seal, Decision("uid-q", 0, q.Status.Decisions[0])...) || q.Status.Decisions[1].Seal != "v1.forged" {
		t.Errorf("AdoptRequest sealed %+v", q.Status.Decisions)
	}
	var off *Keys
	if off.AdoptPartner(p) || off.AdoptRequest(q) {
		t.Error("with sealing off adoption changed something")
	}
}

// Decision integrity III, item 7: a sealed decision has one place in history,
// decisions sealed before chaining included. Those (Sequence 0) bind no place,
// so in a history of their kind an older one replayed as the newest, or two
// swapped, explained a tier; adoption chains them in the stored order, and
// once it ended an unchained decision explains nothing.
func TestADecisionSealedBeforeChainingHasOnePlaceOnceAdopted(t *testing.T) {
	const uid = "uid-acme"
	k, _ := New(keyA)
	at := func(days int) metav1.Time {
		return metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, days))
	}
	legacy := func(d v1alpha1.TierDecision) v1alpha1.TierDecision {
		d.Seal = k.Sign(Tier(uid, d, "")...)
		return d
	}
	gold := legacy(v1alpha1.TierDecision{Time: at(0), To: "gold", Reason: "Promoted"})
	silver := legacy(v1alpha1.TierDecision{Time: at(100), From: "gold", To: "silver", Reason: "Demoted"})
	newest := func(h []v1alpha1.TierDecision) bool { return k.TierSealed(uid, h, len(h)-1) }

	replayed := []v1alpha1.TierDecision{gold, silver, gold}
	swapped := []v1alpha1.TierDecision{silver, gold}
	if newest(replayed) || newest(swapped) {
		t.Fatalf("a decision sealed before chaining, replayed or moved, explains the tier once adoption ended")
	}

	// Adoption chains them in the stored order; a chained decision already after them follows.
	p := &v1alpha1.Partner{}
	p.UID = uid
	p.Status.History = []v1alpha1.TierDecision{gold, silver, {Time: at(200), From: "silver", To: "bronze", Reason: "Demoted"}}
	k.NextTier(uid, p.Status.History[:2], &p.Status.History[2])
	k.SetAdopting(true)
	if !k.TierSealed(uid, p.Status.History[:2], 1) {
		t.Fatalf("while adoption runs, a history sealed before chaining still explains its tier")
	}
	if !k.AdoptPartner(p) {
		t.Fatalf("adoption did not chain the decisions sealed before chaining")
	}
	k.SetAdopting(false)
	for i, d := range p.Status.History {
		if d.Sequence != int64(i+1) || !k.TierSealed(uid, p.Status.History, i) {
			t.Fatalf("decision %d (%s -> %s) is not chained in its place after adoption: sequence %d", i, d.From, d.To, d.Sequence)
		}
	}
	// A decision whose seal never verified is not chained by adoption.
	forged := gold
	forged.To, forged.Seal = "platinum", "v1.forged"
	q := &v1alpha1.Partner{}
	q.UID = uid
	q.Status.History = []v1alpha1.TierDecision{gold, forged}
	k.SetAdopting(true)
	k.AdoptPartner(q)
	k.SetAdopting(false)
	if k.TierSealed(uid, q.Status.History, 1) {
		t.Fatalf("adoption chained a decision whose seal never verified")
	}
}

// A deal's outcome and influence confirmations stored before sealing was on
// are sealed once by adoption; a present seal, good or bad, is left alone; the
// seal binds the registration, the close, the amount and who reported it.
func TestAdoptionSealsADealsUnsealedOutcomeAndConfirmations(t *testing.T) {
	k, _ := New(keyA)
	at := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	d := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{UID: "uid-d"}, Status: v1alpha1.DealRegistrationStatus{
		Phase: v1alpha1.DealApproved, ApprovedAt: &at, ProtectedUntil: &at,
		Outcome: &v1alpha1.DealOutcome{Result: v1alpha1.DealResultWon, ClosedAt: at, Amount: &v1alpha1.Money{Amount: "100", Currency: "USD"}, ReportedBy: "crm"},
		InfluenceConfirmations: []v1alpha1.InfluenceConfirmation{
			{Influencer: v1alpha1.Influencer{Partner: "nimbus", At: at}, ConfirmedBy: "crm"},
			{Influencer: v1alpha1.Influencer{Partner: "forged", At: at}, ConfirmedBy: "crm", Seal: "v1.forged"},
		},
	}}
	if !k.AdoptDeal(d) || !k.OutcomeSealed(d) || !k.ConfirmationSealed(d, d.Status.InfluenceConfirmations[0]) || !k.StandingSealed(d) {
		t.Fatalf("AdoptDeal sealed %+v %+v", d.Status.Outcome, d.Status.InfluenceConfirmations)
	}
	if d.Status.InfluenceConfirmations[1].Seal != "v1.forged" || k.AdoptDeal(d) {
		t.Error("adoption resealed a present seal, or sealed twice")
	}
	for name, change := range map[string]func(*v1alpha1.DealRegistration){
		"another amount":   func(d *v1alpha1.DealRegistration) { d.Status.Outcome.Amount.Amount = "900000" },
		"another close":    func(d *v1alpha1.DealRegistration) { d.Status.Outcome.ClosedAt = metav1.NewTime(at.Add(time.Hour)) },
		"another reporter": func(d *v1alpha1.DealRegistration) { d.Status.Outcome.ReportedBy = "the-cfo" },
		"another deal":     func(d *v1alpha1.DealRegistration) { d.UID = "uid-other" },
	} {
		c := d.DeepCopy()
		change(c)
		if k.OutcomeSealed(c) {
			t.Errorf("the outcome's seal still verifies with %s", name)
		}
	}
	later := metav1.NewTime(at.Add(time.Hour))
	for name, change := range map[string]func(*v1alpha1.DealRegistration){
		"another phase":      func(d *v1alpha1.DealRegistration) { d.Status.Phase = v1alpha1.DealWon },
		"a later protection": func(d *v1alpha1.DealRegistration) { d.Status.ProtectedUntil = &later },
		"an attribution": func(d *v1alpha1.DealRegistration) {
			d.Status.Attribution = &v1alpha1.Attribution{Sourced: &v1alpha1.Credit{Partner: "acme"}}
		},
		"an extension result": func(d *v1alpha1.DealRegistration) {
			d.Status.Extension = &v1alpha1.DealExtension{Request: "x", Result: "Approved"}
		},
	} {
		c := d.DeepCopy()
		change(c)
		if k.StandingSealed(c) {
			t.Errorf("the standing's seal still verifies with %s", name)
		}
	}
	var off *Keys
	if !off.OutcomeSealed(d) || off.AdoptDeal(d) {
		t.Error("with sealing off every outcome counts and adoption changes nothing")
	}
}

// TestAStandingSealedBeforeSealsCoveredItsKeysStillCounts: a standing the
// controller sealed before seals covered the canonical domain and conflict
// keys still seals the standing (nobody is ended by the upgrade), but not the
// keys: those are computed again until the controller's next write seals them
// with the standing. Changing the keys under a seal that covers them unseals
// the standing.
func TestAStandingSealedBeforeSealsCoveredItsKeysStillCounts(t *testing.T) {
	k, _ := New(keyA)
	d := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{UID: "uid-d"}, Status: v1alpha1.DealRegistrationStatus{
		Phase: v1alpha1.DealApproved, CanonicalDomain: "globex.com", ConflictKey: "global/domain:globex.com/sync",
		ConflictKeys: []string{"global/domain:globex.com/sync"}}}
	d.Status.Seal = k.Sign(standingV1(string(d.UID), d.Status)...)
	if !k.StandingSealed(d) || k.KeysSealed(d) {
		t.Errorf("an older seal: StandingSealed %v (want true), KeysSealed %v (want false)", k.StandingSealed(d), k.KeysSealed(d))
	}
	d.Status.Seal = k.Sign(Standing(string(d.UID), d.Status)...)
	if !k.StandingSealed(d) || !k.KeysSealed(d) {
		t.Errorf("a seal over the keys: StandingSealed %v, KeysSealed %v, want both", k.StandingSealed(d), k.KeysSealed(d))
	}
	d.Status.ConflictKeys = []string{"global/domain:victim.com/sync"}
	if k.StandingSealed(d) || k.KeysSealed(d) {
		t.Errorf("keys changed under the seal: StandingSealed %v, KeysSealed %v, want neither", k.StandingSealed(d), k.KeysSealed(d))
	}
	var off *Keys
	if !off.KeysSealed(d) {
		t.Errorf("with sealing off the stored keys count")
	}
}

// TestAChainHeadsSealCoversItsNewestTierChange: rule 7, a sealed decision has
// one place in history. The head's anchor of the partner's newest recorded
// tier decision is sealed with it: an anchor removed, moved back to an older
// decision or added past the webhooks does not verify, while a head sealed
// before heads carried one still does.
func TestAChainHeadsSealCoversItsNewestTierChange(t *testing.T) {
	a, _ := New(keyA)
	at := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	base := v1alpha1.RecordChainSpec{Partner: "acme", Sequence: 7, Digest: strings.Repeat("0", 64)}
	anchored := base
	anchored.NewestTierChange = &v1alpha1.RecordedDecision{Name: "acme-tier-2", Time: at, SubjectUID: "uid-1"}
	older := base
	older.NewestTierChange = &v1alpha1.RecordedDecision{Name: "acme-tier-1", Time: metav1.NewTime(at.Add(-time.Hour)), SubjectUID: "uid-1"}
	sealed := a.Sign(ChainHead("ns", anchored)...)
	tests := map[string]struct {
		seal string
		spec v1alpha1.RecordChainSpec
		want bool
	}{
		"the anchored head verifies":                      {sealed, anchored, true},
		"its anchor removed does not verify":              {sealed, base, false},
		"its anchor moved to an older decision does not":  {sealed, older, false},
		"an anchor added to an unanchored head does not":  {a.Sign(ChainHead("ns", base)...), anchored, false},
		"a head sealed before anchors still verifies":     {a.Sign(Chain("ns", "acme", 7, base.Digest)...), base, true},
		"the anchored head in another namespace does not": {a.Sign(ChainHead("other", anchored)...), anchored, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := a.Verify(tc.seal, ChainHead("ns", tc.spec)...); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

// Issue 28, item 1: each tier decision verifies alone. NextTier keeps the
// predecessor's seal in the decision (PreviousSeal), under the decision's own
// seal, so the oldest entry of a history that keeps only the present still
// counts; in any other place a decision still counts only right after the
// decision whose seal it carries (one place in history), and one sealed
// before it carried PreviousSeal verifies exactly as before.
func TestEachTierDecisionVerifiesAlone(t *testing.T) {
	const uid = "uid-acme"
	k, _ := New(keyA)
	at := func(days int) metav1.Time {
		return metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, days))
	}
	chain := func(prevSeal bool, ds ...v1alpha1.TierDecision) []v1alpha1.TierDecision {
		var h []v1alpha1.TierDecision
		for _, d := range ds {
			k.NextTier(uid, h, &d)
			if !prevSeal {
				d.PreviousSeal = "" // sealed as before previousSeal existed: the seal is the same
			}
			h = append(h, d)
		}
		return h
	}
	decisions := []v1alpha1.TierDecision{
		{Time: at(0), To: "gold", Reason: "Promoted"},
		{Time: at(100), From: "gold", To: "silver", Reason: "Demoted"},
		{Time: at(200), From: "silver", To: "bronze", Reason: "Demoted"},
	}
	h := chain(true, decisions...)
	old := chain(false, decisions...)
	if h[1].PreviousSeal != h[0].Seal || h[2].PreviousSeal != h[1].Seal || h[0].PreviousSeal != "" {
		t.Fatalf("NextTier did not keep the predecessor's seal: %+v", h)
	}
	if old[2].Seal != h[2].Seal {
		t.Fatalf("previousSeal changed what the seal covers")
	}
	moved := h[2]
	moved.PreviousSeal = h[0].Seal
	for name, tc := range map[string]struct {
		history []v1alpha1.TierDecision
		want    bool
	}{
		"the newest decision alone verifies":                                   {history: h[2:], want: true},
		"an older decision alone verifies (the records tell it is not newest)": {history: h[1:2], want: true},
		"the whole chain verifies":                                             {history: h, want: true},
		"an older decision replayed after the newest does not":                 {history: append(slices.Clone(h), h[1]), want: false},
		"a decision after a cut in the middle does not":                        {history: []v1alpha1.TierDecision{h[0], h[2]}, want: false},
		"a decision whose previousSeal was changed does not":                   {history: []v1alpha1.TierDecision{moved}, want: false},
		"a decision sealed without previousSeal verifies in place as before":   {history: old, want: true},
		"a decision sealed without previousSeal cannot be placed alone":        {history: old[2:], want: false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := k.TierSealed(uid, tc.history, len(tc.history)-1); got != tc.want {
				t.Errorf("TierSealed(newest) = %v, want %v", got, tc.want)
			}
		})
	}
}
