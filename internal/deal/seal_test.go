package deal

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// TestAnUnsealedOutcomeEarnsNothing: with sealing on, a deal's outcome or an
// influence confirmation whose seal does not verify (written past the webhook
// that stamps and seals the CRM's reports) is ignored: no Won phase, no
// sourced or influenced credit, and the registration says so
// (OutcomeSealed=False, UnsealedOutcome, with a warning Event); the metrics
// count no deal whose outcome is not sealed. Sealed reports count as before.
func TestAnUnsealedOutcomeEarnsNothing(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	other, _ := seal.New([]byte(strings.Repeat("o", 32)))
	day := 24 * time.Hour
	claim := influencer("nimbus", "", now.Add(-2*day))
	approved := inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(day)}
	})
	reported := func(outcome, confirmation *seal.Keys) func(*v1alpha1.DealRegistration) {
		return func(d *v1alpha1.DealRegistration) {
			won("120000", now.Add(-time.Hour))(d)
			d.Spec.Influencers = []v1alpha1.Influencer{claim}
			d.Status.Outcome.ReportedBy = "crm@example.com"
			d.Status.Outcome.Seal = outcome.Sign(seal.Outcome(string(d.UID), *d.Status.Outcome)...)
			c := v1alpha1.InfluenceConfirmation{Influencer: claim, ConfirmedBy: "crm@example.com"}
			c.Seal = confirmation.Sign(seal.Confirmation(string(d.UID), c)...)
			d.Status.InfluenceConfirmations = []v1alpha1.InfluenceConfirmation{c}
		}
	}
	for name, tc := range map[string]struct {
		outcome, confirmation *seal.Keys
		seals                 *seal.Keys
		wantPhase             v1alpha1.DealPhase
		wantInfluenced        int
		wantUnsealed          string // part of the OutcomeSealed=False message; "" for no such condition
	}{
		"a sealed outcome and confirmation are credited":      {outcome: keys, confirmation: keys, seals: keys, wantPhase: v1alpha1.DealWon, wantInfluenced: 1},
		"an outcome sealed under another key earns nothing":   {outcome: other, confirmation: keys, seals: keys, wantPhase: v1alpha1.DealApproved, wantUnsealed: "status.outcome"},
		"an outcome without a seal earns nothing":             {outcome: nil, confirmation: keys, seals: keys, wantPhase: v1alpha1.DealApproved, wantUnsealed: "status.outcome"},
		"an unsealed confirmation confirms nothing":           {outcome: keys, confirmation: other, seals: keys, wantPhase: v1alpha1.DealWon, wantInfluenced: 0, wantUnsealed: "influence confirmation of nimbus"},
		"with sealing off the outcome counts as the CRM said": {outcome: nil, confirmation: nil, seals: nil, wantPhase: v1alpha1.DealWon, wantInfluenced: 1},
	} {
		t.Run(name, func(t *testing.T) {
			d := registration("d1", now.Add(-20*day), approved, reported(tc.outcome, tc.confirmation))
			d.Status.Seal = tc.seals.Sign(seal.Standing(string(d.UID), d.Status)...) // as the controller decided it
			r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine},
				Influencers: programPartners("partners/nimbus"), Seals: tc.seals})
			if r.Status.Phase != tc.wantPhase {
				t.Fatalf("phase %s (%s), want %s", r.Status.Phase, r.Status.Message, tc.wantPhase)
			}
			a := r.Status.Attribution
			if tc.wantPhase == v1alpha1.DealWon && (a == nil || a.Sourced == nil || len(a.Influenced) != tc.wantInfluenced) {
				t.Fatalf("attribution %+v, want sourced credit and %d influenced", a, tc.wantInfluenced)
			}
			if tc.wantPhase != v1alpha1.DealWon && a != nil {
				t.Fatalf("attribution %+v from an unsealed outcome", a)
			}
			if r.Status.Outcome == nil || len(r.Status.InfluenceConfirmations) != 1 {
				t.Errorf("the CRM's fields are not kept as stored: %+v %+v", r.Status.Outcome, r.Status.InfluenceConfirmations)
			}
			c := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
			if tc.wantUnsealed == "" {
				if c != nil {
					t.Errorf("condition %+v on sealed reports", c)
				}
				if len(r.Warnings) != 0 {
					t.Errorf("warnings %+v on sealed reports", r.Warnings)
				}
				return
			}
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonUnsealedOutcome || !strings.Contains(c.Message, tc.wantUnsealed) {
				t.Fatalf("condition %+v, want OutcomeSealed=False UnsealedOutcome naming %q", c, tc.wantUnsealed)
			}
			if len(r.Warnings) != 1 || r.Warnings[0].Reason != v1alpha1.ReasonUnsealedOutcome {
				t.Fatalf("warnings %+v, want one UnsealedOutcome", r.Warnings)
			}
			// The warning is emitted once: a later evaluation of the stored status adds none.
			d.Status = r.Status
			if again := Evaluate(Input{Now: now.Add(time.Minute), Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine},
				Influencers: programPartners("partners/nimbus"), Seals: tc.seals}); len(again.Warnings) != 0 {
				t.Errorf("warned again: %+v", again.Warnings)
			}
		})
	}

	// The Deals metrics count no deal whose stored outcome is not sealed,
	// whatever its stored phase and attribution say.
	p := program(nil)
	p.Spec.Metrics = []v1alpha1.MetricDefinition{{Name: "sourced", Source: v1alpha1.MetricSourceDeals,
		Deals: &v1alpha1.DealMetric{Measure: v1alpha1.DealMeasureWonDeals}}}
	forged := registration("d1", now.Add(-20*day), reported(other, other), func(d *v1alpha1.DealRegistration) {
		d.Status.Phase = v1alpha1.DealWon
		d.Status.Attribution = &v1alpha1.Attribution{Sourced: &v1alpha1.Credit{Partner: "acme-consulting", Namespace: "partners", Amount: *d.Status.Outcome.Amount}}
	})
	if _, st, _ := Metrics(p, "partners/acme-consulting", []v1alpha1.DealRegistration{*forged}, now, keys); len(st) != 1 || st[0].DealCount != 0 {
		t.Errorf("metrics %+v count a deal whose outcome is not sealed", st)
	}
	if _, st, _ := Metrics(p, "partners/acme-consulting", []v1alpha1.DealRegistration{*forged}, now, nil); len(st) != 1 || st[0].DealCount != 1 {
		t.Errorf("metrics %+v, want the deal counted with sealing off", st)
	}
}

// TestAnUnsealedStandingGivesNothing: with sealing on, the controller seals
// the standing it decides (phase, approvedAt, protectedUntil, the extension's
// and conflict's results, the attribution). A stored standing whose seal does
// not verify was written past the webhooks: an Approved or Won registration
// ends at once (Expired, UnsealedStanding) with no protection or credit; any
// other is decided again, with the condition and a warning Event.
func TestAnUnsealedStandingGivesNothing(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	other, _ := seal.New([]byte(strings.Repeat("o", 32)))
	day := 24 * time.Hour
	approved := inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(day)}
	})
	wonWithCredit := inPhase(v1alpha1.DealWon, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(day)}
		s.Attribution = &v1alpha1.Attribution{Sourced: &v1alpha1.Credit{Partner: "acme-consulting", Namespace: "partners", Amount: v1alpha1.Money{Amount: "900000", Currency: "USD"}}}
	})
	sealedBy := func(k *seal.Keys) func(*v1alpha1.DealRegistration) {
		return func(d *v1alpha1.DealRegistration) { d.Status.Seal = k.Sign(seal.Standing(string(d.UID), d.Status)...) }
	}
	// extended moves protectedUntil after the standing was sealed.
	extended := func(d *v1alpha1.DealRegistration) { d.Status.ProtectedUntil = &metav1.Time{Time: now.Add(300 * day)} }
	for name, tc := range map[string]struct {
		mutate    []func(*v1alpha1.DealRegistration)
		seals     *seal.Keys
		wantPhase v1alpha1.DealPhase
		wantEnded bool
	}{
		"a sealed approval keeps its protection":                {mutate: []func(*v1alpha1.DealRegistration){approved, sealedBy(keys)}, seals: keys, wantPhase: v1alpha1.DealApproved},
		"an approval with no seal ends":                         {mutate: []func(*v1alpha1.DealRegistration){approved}, seals: keys, wantPhase: v1alpha1.DealExpired, wantEnded: true},
		"an approval sealed under another key ends":             {mutate: []func(*v1alpha1.DealRegistration){approved, sealedBy(other)}, seals: keys, wantPhase: v1alpha1.DealExpired, wantEnded: true},
		"protection moved after the seal ends the registration": {mutate: []func(*v1alpha1.DealRegistration){approved, sealedBy(keys), extended}, seals: keys, wantPhase: v1alpha1.DealExpired, wantEnded: true},
		"a forged win with credit ends without credit":          {mutate: []func(*v1alpha1.DealRegistration){wonWithCredit}, seals: keys, wantPhase: v1alpha1.DealExpired, wantEnded: true},
		"with sealing off the stored approval stands":           {mutate: []func(*v1alpha1.DealRegistration){approved}, seals: nil, wantPhase: v1alpha1.DealApproved},
	} {
		t.Run(name, func(t *testing.T) {
			d := registration("d1", now.Add(-20*day), tc.mutate...)
			r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}, Seals: tc.seals})
			if r.Status.Phase != tc.wantPhase {
				t.Fatalf("phase %s (%s), want %s", r.Status.Phase, r.Status.Message, tc.wantPhase)
			}
			if !tc.seals.Verify(r.Status.Seal, seal.Standing(string(d.UID), r.Status)...) {
				t.Errorf("the standing the controller decided is not sealed")
			}
			c := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
			if !tc.wantEnded {
				if c != nil || r.Lock == Release {
					t.Errorf("condition %+v, lock %d: a sealed standing is kept", c, r.Lock)
				}
				return
			}
			if r.Status.Reason != v1alpha1.ReasonDealUnsealedStanding || r.Lock != Release {
				t.Errorf("reason %s, lock %d: want ended UnsealedStanding, releasing the customer", r.Status.Reason, r.Lock)
			}
			if r.Status.ProtectedUntil == nil || r.Status.ApprovedAt == nil || !r.Status.ProtectedUntil.Equal(r.Status.ApprovedAt) || ProtectedAt(r.Status, now.Add(-time.Hour)) {
				t.Errorf("protection %v..%v kept from an unsealed standing, want it empty", r.Status.ApprovedAt, r.Status.ProtectedUntil)
			}
			if Credited(&v1alpha1.DealRegistration{Status: r.Status}) != nil {
				t.Errorf("attribution %+v credits someone", r.Status.Attribution)
			}
			// A sealed outcome closed within the forged protection earns nothing either.
			d.Status = r.Status
			won("120000", now.Add(-time.Hour))(d)
			d.Status.Outcome.Seal = tc.seals.Sign(seal.Outcome(string(d.UID), *d.Status.Outcome)...)
			if again := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Seals: tc.seals}); again.Status.Phase != v1alpha1.DealExpired {
				t.Errorf("a close within the forged protection: phase %s (%s)", again.Status.Phase, again.Status.Message)
			}
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonDealUnsealedStanding {
				t.Errorf("condition %+v, want OutcomeSealed=False UnsealedStanding", c)
			}
			if len(r.Warnings) != 1 || r.Warnings[0].Reason != v1alpha1.ReasonDealUnsealedStanding {
				t.Errorf("warnings %+v, want one UnsealedStanding", r.Warnings)
			}
		})
	}

	// A registration not yet approved whose standing is not sealed is decided
	// again: it is not ended, and what it decides is sealed.
	q := registration("d1", now.Add(-day), inPhase(v1alpha1.DealQueued), func(d *v1alpha1.DealRegistration) {
		d.Status.ProtectedUntil = &metav1.Time{Time: now.Add(300 * day)}
	})
	r := Evaluate(Input{Now: now, Deal: q, Partner: partner(resell), Program: program(nil),
		Lock: Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "partners", Name: "other", UID: "uid-other", Partner: "rival"}}, Seals: keys})
	if r.Status.Phase == v1alpha1.DealExpired || !keys.StandingSealed(&v1alpha1.DealRegistration{ObjectMeta: q.ObjectMeta, Status: r.Status}) {
		t.Errorf("an unsealed queued registration: phase %s, seal %q", r.Status.Phase, r.Status.Seal)
	}
}
