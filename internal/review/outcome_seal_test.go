package review

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

func outcomeKeys(t *testing.T) *seal.Keys {
	t.Helper()
	keys, err := seal.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// approvedByManager is request uid-q, Approved, with a sealed path copy of one
// manager stage and the manager's sealed approval: the sealed decisions
// explain an approval.
func approvedByManager(keys *seal.Keys) *v1alpha1.ExceptionRequest {
	q := request(v1alpha1.RequestFunds, "6000")
	q.UID, q.CreationTimestamp = "uid-q", metav1.NewTime(t0)
	p := v1alpha1.ResolvedReviewPath{Name: "funds", Stages: []v1alpha1.ReviewStage{stage("manager", 1, time.Hour)}}
	p.Seal = keys.Sign(seal.Path("uid-q", p)...)
	d := approve("manager", "alice")
	d.Time = mtime(time.Minute)
	d.Seal = keys.Sign(seal.Decision("uid-q", 0, d)...)
	q.Status = v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhaseApproved, ReviewPath: &p, Decisions: []v1alpha1.ReviewDecision{d}}
	return q
}

// Issue 29: the controller's own settlement is sealed, and an Approved phase
// counts only with the controller's sealed Approved outcome for the request,
// besides the sealed decisions that explain it. A denial the controller made
// after the reviewers' quorum (OverCap or NotEntitled at approval) written
// back to Approved past the webhooks carries a Denied outcome, or none.
func TestAnApprovalCountsOnlyWithTheControllersSealedApprovedOutcome(t *testing.T) {
	keys := outcomeKeys(t)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	sealed := func(uid string, o v1alpha1.RequestOutcome) *v1alpha1.RequestOutcome {
		o.Seal = keys.Sign(seal.RequestOutcome(uid, o)...)
		return &o
	}
	approved := v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseApproved, Time: at(2 * time.Minute), Reason: v1alpha1.ReasonQuorumReached}
	moved := func(o *v1alpha1.RequestOutcome) *v1alpha1.RequestOutcome { o.Time = at(time.Hour); return o }
	for name, tc := range map[string]struct {
		outcome   *v1alpha1.RequestOutcome
		adopting  bool
		decisions []v1alpha1.ReviewDecision // replace the manager's sealed approval when set
		want      bool
		why       string
	}{
		"the controller's sealed Approved outcome counts": {
			outcome: sealed("uid-q", approved), want: true},
		"a denial OverCap at approval written back to Approved explains nothing": {
			outcome: sealed("uid-q", v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseDenied, Time: at(2 * time.Minute), Reason: v1alpha1.ReasonOverCap}),
			why:     "settled it Denied (OverCap)"},
		"a denial NotEntitled at approval written back to Approved explains nothing": {
			outcome: sealed("uid-q", v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseDenied, Time: at(2 * time.Minute), Reason: v1alpha1.ReasonNotEntitled}),
			why:     "settled it Denied (NotEntitled)"},
		"an ended grant written back to Approved explains nothing": {
			outcome: sealed("uid-q", v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseExpired, Time: at(time.Hour), Reason: v1alpha1.ReasonGrantExpired}),
			why:     "settled it Expired"},
		"an Approved phase with no outcome explains nothing": {
			why: "carries no outcome sealed by the controller"},
		"an Approved phase with no outcome counts while adoption is on": {
			adopting: true, want: true},
		"another request's Approved outcome replayed explains nothing": {
			outcome: sealed("uid-other", approved), why: "not sealed by the controller for this request"},
		"an Approved outcome moved to another time explains nothing": {
			outcome: moved(sealed("uid-q", approved)), why: "not sealed by the controller for this request"},
		"an unsealed Approved outcome explains nothing": {
			outcome: &approved, why: "not sealed by the controller for this request"},
		"an unsealed Approved outcome counts while adoption is on": {
			outcome: &approved, adopting: true, want: true},
		"a sealed Approved outcome does not replace the sealed decisions": {
			outcome: sealed("uid-q", approved), decisions: []v1alpha1.ReviewDecision{}, why: "do not meet review path"},
	} {
		t.Run(name, func(t *testing.T) {
			keys.SetAdopting(tc.adopting)
			defer keys.SetAdopting(false)
			q := approvedByManager(keys)
			q.Status.Outcome = tc.outcome
			if tc.decisions != nil {
				q.Status.Decisions = tc.decisions
			}
			got, why := Outcome(q, keys)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("Outcome = %v (%q), want %v (%q)", got, why, tc.want, tc.why)
			}
			if ok, _ := Outcome(q, nil); !ok {
				t.Errorf("with sealing off the stored phase stands")
			}
		})
	}
}

// Issue 29: the evaluator seals every settlement it makes (status.outcome:
// the phase, the settling instant and the reason, for this request), so a
// denial after the reviewers' quorum written back to Approved carries its
// Denied outcome and gives nothing.
func TestTheControllerSealsEverySettlement(t *testing.T) {
	keys := outcomeKeys(t)
	pending := func(typ v1alpha1.RequestType, amount string, expires time.Duration) *v1alpha1.ExceptionRequest {
		q := approvedByManager(keys)
		q.Spec.Type, q.Spec.Amount = typ, nil
		if amount != "" {
			q.Spec.Amount = usd(amount)
		}
		if expires > 0 {
			q.Spec.Expires = mtime(expires)
		}
		q.Status.Phase, q.Status.CurrentStage = v1alpha1.PhasePending, "manager"
		return q
	}
	approvedTierException := func() *v1alpha1.ExceptionRequest {
		q := pending(v1alpha1.RequestTierException, "", time.Hour)
		q.Status = Evaluate(Input{Now: at(2 * time.Minute), Request: q, Seals: keys}).Status
		return q
	}
	for name, tc := range map[string]struct {
		q         *v1alpha1.ExceptionRequest
		in        Input
		phase     v1alpha1.RequestPhase
		reason    string
		approved  bool
		forgedWhy string // why the outcome, written back to Approved, explains nothing
	}{
		"an approval is sealed Approved": {
			q: pending(v1alpha1.RequestFunds, "6000", 0), in: Input{FundsRemaining: usd("10000")},
			phase: v1alpha1.PhaseApproved, reason: v1alpha1.ReasonQuorumReached, approved: true},
		"a denial OverCap at approval is sealed Denied": {
			q: pending(v1alpha1.RequestFunds, "6000", 0), in: Input{FundsRemaining: usd("4000")},
			phase: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonOverCap, forgedWhy: "settled it Denied (OverCap)"},
		"a denial NotEntitled at approval is sealed Denied": {
			q: pending(v1alpha1.RequestFunds, "6000", 0), in: Input{},
			phase: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonNotEntitled, forgedWhy: "settled it Denied (NotEntitled)"},
		"a reviewer's denial is sealed Denied": {
			q: func() *v1alpha1.ExceptionRequest {
				q := pending(v1alpha1.RequestFunds, "6000", 0)
				d := deny("manager", "alice", "no budget")
				d.Seal = keys.Sign(seal.Decision("uid-q", 0, d)...)
				q.Status.Decisions = []v1alpha1.ReviewDecision{d}
				return q
			}(), in: Input{FundsRemaining: usd("10000")},
			phase: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonDeniedByReviewer, forgedWhy: "settled it Denied (DeniedByReviewer)"},
		"a withdrawal is sealed Withdrawn": {
			q: pending(v1alpha1.RequestFunds, "6000", 0), in: Input{FundsRemaining: usd("10000"), Withdraw: "the partner is gone", WithdrawReason: v1alpha1.ReasonPartnerNotFound},
			phase: v1alpha1.PhaseWithdrawn, reason: v1alpha1.ReasonPartnerNotFound, forgedWhy: "settled it Withdrawn"},
		"a grant that lapsed is sealed Expired": {
			q: approvedTierException(), in: Input{Now: at(2 * time.Hour)},
			phase: v1alpha1.PhaseExpired, reason: v1alpha1.ReasonGrantExpired, forgedWhy: "settled it Expired (GrantExpired)"},
		"a used promotion is sealed Expired": {
			q: approvedTierException(), in: Input{Used: "the promotion was used"},
			phase: v1alpha1.PhaseExpired, reason: v1alpha1.ReasonPromotionUsed, forgedWhy: "settled it Expired (PromotionUsed)"},
	} {
		t.Run(name, func(t *testing.T) {
			in := tc.in
			if in.Now.IsZero() {
				in.Now = at(2*time.Minute + 300*time.Millisecond)
			}
			in.Request, in.Seals = tc.q, keys
			res := Evaluate(in)
			o := res.Status.Outcome
			if res.Status.Phase != tc.phase || o == nil || o.Phase != tc.phase || o.Reason != tc.reason {
				t.Fatalf("phase %s, outcome %+v; want %s sealed with reason %s", res.Status.Phase, o, tc.phase, tc.reason)
			}
			if want := in.Now.Truncate(time.Second); !o.Time.Time.Equal(want) {
				t.Errorf("outcome time %s, want the settling instant %s", o.Time, want)
			}
			if !keys.Verify(o.Seal, seal.RequestOutcome("uid-q", *o)...) {
				t.Errorf("the outcome is not sealed for the request")
			}
			q := tc.q.DeepCopy()
			q.Status = res.Status
			if again := Evaluate(Input{Now: in.Now.Add(time.Minute), Request: q, Seals: keys, Used: in.Used}); again.Status.Outcome == nil || *again.Status.Outcome != *o {
				t.Errorf("evaluating again changed the outcome to %+v", again.Status.Outcome)
			}
			if got, why := Outcome(q, keys); got != tc.approved {
				t.Errorf("Outcome = %v (%s), want %v", got, why, tc.approved)
			}
			if tc.approved {
				return
			}
			// Written back to Approved past the webhooks: the sealed outcome says otherwise.
			q.Status.Phase = v1alpha1.PhaseApproved
			if got, why := Outcome(q, keys); got || !strings.Contains(why, tc.forgedWhy) {
				t.Errorf("written back to Approved: Outcome = %v (%q), want false (%q)", got, why, tc.forgedWhy)
			}
		})
	}
}

// Issue 29, adoption: a request settled before outcomes were sealed (by an
// older version, or with sealing off) has no sealed outcome. Adoption seals
// a Denied, Expired or Withdrawn phase as stored (it grants nothing), and an
// Approved one only when the records confirm it: its Approved outcome record,
// and no Denied, Withdrawn or Expired record (a request is approved at most
// once, and an approval only ever expires). An Approved phase the records do
// not confirm stays unsealed and, once adoption ends, gives nothing.
func TestAdoptionSealsAnApprovalOnlyWhenItsRecordsConfirmIt(t *testing.T) {
	keys := outcomeKeys(t)
	recordedAt := t0.Add(2*time.Minute + 400*time.Millisecond)
	rec := func(p v1alpha1.RequestPhase, reason string) RecordedOutcome {
		return RecordedOutcome{Phase: p, Time: recordedAt, Reason: reason}
	}
	approvedRec := rec(v1alpha1.PhaseApproved, v1alpha1.ReasonQuorumReached)
	settled := func(p v1alpha1.RequestPhase, cond, reason string) *v1alpha1.ExceptionRequest {
		q := approvedByManager(keys)
		q.Status.Phase = p
		if cond != "" {
			q.Status.Conditions = []metav1.Condition{{Type: cond, Status: metav1.ConditionTrue, Reason: reason, LastTransitionTime: metav1.NewTime(t0.Add(time.Hour))}}
		}
		return q
	}
	withOutcome := func(q *v1alpha1.ExceptionRequest, o v1alpha1.RequestOutcome) *v1alpha1.ExceptionRequest {
		q.Status.Outcome = &o
		return q
	}
	approvedOutcome := v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseApproved, Time: metav1.NewTime(t0), Reason: v1alpha1.ReasonQuorumReached}
	for name, tc := range map[string]struct {
		q        *v1alpha1.ExceptionRequest
		recorded []RecordedOutcome
		off      bool
		adopted  bool
		want     *v1alpha1.RequestOutcome // the outcome sealed, without its seal
		approved bool                     // Outcome once adoption ended
	}{
		"an approval its Approved record confirms is sealed with the record's time and reason": {
			q: settled(v1alpha1.PhaseApproved, v1alpha1.ConditionApproved, "Forged"), recorded: []RecordedOutcome{approvedRec},
			adopted: true, approved: true,
			want: &v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseApproved, Time: metav1.NewTime(recordedAt.Truncate(time.Second)), Reason: v1alpha1.ReasonQuorumReached}},
		"an approval stored with an unsealed outcome (sealing off) and its record is sealed": {
			q: withOutcome(settled(v1alpha1.PhaseApproved, "", ""), approvedOutcome), recorded: []RecordedOutcome{approvedRec},
			adopted: true, approved: true,
			want: &v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseApproved, Time: metav1.NewTime(recordedAt.Truncate(time.Second)), Reason: v1alpha1.ReasonQuorumReached}},
		"an approval with no record stays unsealed": {
			q: settled(v1alpha1.PhaseApproved, v1alpha1.ConditionApproved, v1alpha1.ReasonQuorumReached)},
		"a denial written back to Approved stays unsealed, whatever records it has": {
			q:        settled(v1alpha1.PhaseApproved, v1alpha1.ConditionApproved, v1alpha1.ReasonQuorumReached),
			recorded: []RecordedOutcome{rec(v1alpha1.PhaseDenied, v1alpha1.ReasonOverCap), approvedRec}},
		"an ended grant written back to Approved stays unsealed": {
			q:        settled(v1alpha1.PhaseApproved, v1alpha1.ConditionApproved, v1alpha1.ReasonQuorumReached),
			recorded: []RecordedOutcome{approvedRec, rec(v1alpha1.PhaseExpired, v1alpha1.ReasonPromotionUsed)}},
		"a withdrawal written back to Approved stays unsealed": {
			q:        settled(v1alpha1.PhaseApproved, v1alpha1.ConditionApproved, v1alpha1.ReasonQuorumReached),
			recorded: []RecordedOutcome{rec(v1alpha1.PhaseWithdrawn, v1alpha1.ReasonPartnerNotFound), approvedRec}},
		"a denial is sealed as stored, from its condition": {
			q: settled(v1alpha1.PhaseDenied, v1alpha1.ConditionDenied, v1alpha1.ReasonOverCap), adopted: true,
			want: &v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseDenied, Time: metav1.NewTime(t0.Add(time.Hour)), Reason: v1alpha1.ReasonOverCap}},
		"an expiry keeps its stored outcome's time and reason": {
			q: withOutcome(settled(v1alpha1.PhaseExpired, v1alpha1.ConditionExpired, "Other"),
				v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseExpired, Time: metav1.NewTime(t0.Add(2 * time.Hour)), Reason: v1alpha1.ReasonGrantExpired}),
			adopted: true,
			want:    &v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseExpired, Time: metav1.NewTime(t0.Add(2 * time.Hour)), Reason: v1alpha1.ReasonGrantExpired}},
		"a withdrawal without its condition is sealed at the request's creation": {
			q: settled(v1alpha1.PhaseWithdrawn, "", ""), adopted: true,
			want: &v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseWithdrawn, Time: metav1.NewTime(t0), Reason: string(v1alpha1.PhaseWithdrawn)}},
		"a sealed outcome is left as it is": {
			q: withOutcome(settled(v1alpha1.PhaseApproved, "", ""), func() v1alpha1.RequestOutcome {
				o := approvedOutcome
				o.Seal = keys.Sign(seal.RequestOutcome("uid-q", o)...)
				return o
			}()), recorded: []RecordedOutcome{approvedRec}, approved: true},
		"an outcome whose seal does not verify is left as it is": {
			q: withOutcome(settled(v1alpha1.PhaseApproved, "", ""), func() v1alpha1.RequestOutcome {
				o := approvedOutcome
				o.Seal = "v1.forged"
				return o
			}()), recorded: []RecordedOutcome{approvedRec}},
		"a pending request has no outcome to adopt": {
			q: settled(v1alpha1.PhasePending, "", "")},
		"with sealing off nothing is sealed": {
			q: settled(v1alpha1.PhaseApproved, "", ""), recorded: []RecordedOutcome{approvedRec}, off: true},
	} {
		t.Run(name, func(t *testing.T) {
			k := keys
			if tc.off {
				k = nil
			}
			before := tc.q.Status.Outcome.DeepCopy()
			if got := AdoptOutcome(tc.q, tc.recorded, k); got != tc.adopted {
				t.Fatalf("AdoptOutcome = %v, want %v", got, tc.adopted)
			}
			o := tc.q.Status.Outcome
			switch {
			case tc.want == nil && !equalOutcome(o, before):
				t.Errorf("the outcome changed to %+v", o)
			case tc.want != nil:
				bare := *o
				bare.Seal = ""
				if bare != *tc.want || !keys.Verify(o.Seal, seal.RequestOutcome("uid-q", *o)...) {
					t.Errorf("outcome %+v, want %+v sealed for the request", *o, *tc.want)
				}
			}
			if got, why := Outcome(tc.q, keys); got != tc.approved {
				t.Errorf("once adoption ended, Outcome = %v (%s), want %v", got, why, tc.approved)
			}
		})
	}
}

func equalOutcome(a, b *v1alpha1.RequestOutcome) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Issue 29, adoption: an Approved request with no sealed outcome counts only
// while adoption is on, so it is evaluated again every AdoptionRecheck until
// adoption ends (then, unless adoption sealed it, it is unexplained) instead
// of waiting for its next change.
func TestAnApprovalAwaitingAdoptionIsEvaluatedAgainUntilAdoptionEnds(t *testing.T) {
	keys := outcomeKeys(t)
	now := at(time.Hour)
	for name, tc := range map[string]struct {
		adopting bool
		sealed   bool
		expires  time.Duration
		want     time.Duration // from now; 0: no deadline
	}{
		"an approval with no sealed outcome is evaluated again while adoption is on": {adopting: true, want: AdoptionRecheck},
		"an approval whose grant expires sooner is evaluated then":                   {adopting: true, expires: time.Hour + time.Second, want: time.Second},
		"a sealed approval waits for nothing while adoption is on":                   {adopting: true, sealed: true},
		"an approval with no sealed outcome waits for nothing once adoption ended":   {},
	} {
		t.Run(name, func(t *testing.T) {
			keys.SetAdopting(tc.adopting)
			defer keys.SetAdopting(false)
			q := approvedByManager(keys)
			if tc.expires > 0 {
				q.Spec.Expires = mtime(tc.expires)
			}
			if tc.sealed {
				q.Status.Outcome = sealedOutcome(keys, "uid-q", v1alpha1.PhaseApproved, t0)
			}
			res := Evaluate(Input{Now: now, Request: q, Seals: keys})
			switch {
			case tc.want == 0 && res.NextDeadline != nil:
				t.Errorf("next deadline %s, want none", res.NextDeadline)
			case tc.want != 0 && (res.NextDeadline == nil || !res.NextDeadline.Equal(now.Add(tc.want))):
				t.Errorf("next deadline %v, want %s", res.NextDeadline, now.Add(tc.want))
			}
		})
	}
}
