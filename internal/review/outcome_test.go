package review

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// Decision integrity III, item 6: the seal covers outcomes, not only stage
// decisions. An Approved phase counts only when sealed stage decisions that meet
// the request's review path explain it.
func TestTheSealCoversOutcomes(t *testing.T) {
	keys, err := seal.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	sealPath := func(p v1alpha1.ResolvedReviewPath) *v1alpha1.ResolvedReviewPath {
		p.Seal = keys.Sign(seal.Path("uid-q", p)...)
		return &p
	}
	two := sealPath(v1alpha1.ResolvedReviewPath{Name: "two", Stages: []v1alpha1.ReviewStage{
		stage("manager", 1, 72*time.Hour), stage("finance", 2, 72*time.Hour), stage("vp", 1, 0, "escalation")}, EscalationOwner: "owner@example.com"})
	// The path rewritten past the webhooks: finance dropped, its seal kept.
	shortened := *two
	shortened.Stages = two.Stages[:1]
	sealed := func(ds ...v1alpha1.ReviewDecision) []v1alpha1.ReviewDecision {
		out := make([]v1alpha1.ReviewDecision, len(ds))
		for i, d := range ds {
			d.Seal = keys.Sign(seal.Decision("uid-q", i, d)...)
			out[i] = d
		}
		return out
	}
	unsealed := func(ds ...v1alpha1.ReviewDecision) []v1alpha1.ReviewDecision { return ds }
	for name, tc := range map[string]struct {
		path      *v1alpha1.ResolvedReviewPath
		decisions []v1alpha1.ReviewDecision
		phase     v1alpha1.RequestPhase
		keys      *seal.Keys
		want      bool
	}{
		"every normal stage reached its quorum with sealed approvals": {
			path: two, decisions: sealed(approve("manager", "m"), approve("finance", "f1"), approve("finance", "f2")), want: true},
		"an escalation stage reached its quorum": {
			path: two, decisions: sealed(approve("manager", "m"), approve("vp", "v")), want: true},
		"the escalation owner approved": {
			path: two, decisions: sealed(approve(EscalationStage, "owner@example.com")), want: true},
		"a path copy rewritten past the webhooks explains nothing": {
			path: &shortened, decisions: sealed(approve("manager", "m")), want: false},
		"an unsealed path copy explains nothing": {
			path: &v1alpha1.ResolvedReviewPath{Name: "one", Stages: []v1alpha1.ReviewStage{stage("manager", 1, 0)}}, decisions: sealed(approve("manager", "m")), want: false},
		"an Approved phase with no decisions explains nothing": {
			path: two, want: false},
		"an Approved phase without a review path explains nothing": {
			decisions: sealed(approve("manager", "m")), want: false},
		"unsealed decisions explain nothing": {
			path: two, decisions: unsealed(approve("manager", "m"), approve("finance", "f1"), approve("finance", "f2")), want: false},
		"a stage short of its quorum explains nothing": {
			path: two, decisions: sealed(approve("manager", "m"), approve("finance", "f1")), want: false},
		"a sealed denial explains no approval": {
			path: two, decisions: sealed(approve("manager", "m"), approve("finance", "f1"), deny("finance", "f2", "no"), approve("finance", "f3")), want: false},
		"the requester's own approval does not count": {
			path: two, decisions: sealed(approve("manager", requester), approve("finance", "f1"), approve("finance", "f2")), want: false},
		"a phase that is not Approved is not approved": {
			path: two, phase: v1alpha1.PhasePending, decisions: sealed(approve("manager", "m"), approve("finance", "f1"), approve("finance", "f2")), want: false},
	} {
		t.Run(name, func(t *testing.T) {
			q := request(v1alpha1.RequestTierException, "")
			q.UID = "uid-q"
			q.Status.Phase = cmpOr(tc.phase, v1alpha1.PhaseApproved)
			q.Status.ReviewPath, q.Status.Decisions = tc.path, tc.decisions
			q.Status.Outcome = sealedOutcome(keys, "uid-q", q.Status.Phase, t0)
			if got, why := Outcome(q, keys); got != tc.want {
				t.Errorf("Outcome = %v (%s), want %v", got, why, tc.want)
			}
			// With sealing off the stored phase stands.
			if got, _ := Outcome(q, nil); got != (q.Status.Phase == v1alpha1.PhaseApproved) {
				t.Errorf("with sealing off, Outcome = %v for phase %s", got, q.Status.Phase)
			}
		})
	}
}

// sealedOutcome is the controller's sealed settlement of request uid to phase at t.
func sealedOutcome(keys *seal.Keys, uid string, phase v1alpha1.RequestPhase, t time.Time) *v1alpha1.RequestOutcome {
	o := v1alpha1.RequestOutcome{Phase: phase, Time: metav1.NewTime(t), Reason: v1alpha1.ReasonQuorumReached}
	if phase != v1alpha1.PhaseApproved {
		o.Reason = v1alpha1.ReasonOverCap
	}
	o.Seal = keys.Sign(seal.RequestOutcome(uid, o)...)
	return &o
}

func cmpOr(p, def v1alpha1.RequestPhase) v1alpha1.RequestPhase {
	if p == "" {
		return def
	}
	return p
}

// An Approved phase written past the webhooks is marked OutcomeSealed=False with
// a Warning event, once; the phase is left as stored.
func TestAnUnexplainedApprovalIsMarkedOnce(t *testing.T) {
	keys, err := seal.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	q := request(v1alpha1.RequestTierException, "")
	q.UID = "uid-q"
	q.Status.Phase = v1alpha1.PhaseApproved
	small := v1alpha1.ResolvedReviewPath{Name: "small", Stages: []v1alpha1.ReviewStage{stage("manager", 1, 0)}}
	small.Seal = keys.Sign(seal.Path("uid-q", small)...)
	q.Status.ReviewPath = &small
	res := Evaluate(Input{Now: at(0), Request: q, Seals: keys})
	c := meta.FindStatusCondition(res.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
	if res.Status.Phase != v1alpha1.PhaseApproved || c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonUnexplainedOutcome {
		t.Fatalf("phase %s, OutcomeSealed %+v; want the phase kept and OutcomeSealed=False UnexplainedOutcome", res.Status.Phase, c)
	}
	if len(res.Events) != 1 || !res.Events[0].Warning || res.Events[0].Reason != v1alpha1.ReasonUnexplainedOutcome {
		t.Errorf("events = %+v, want one UnexplainedOutcome warning", res.Events)
	}
	q.Status = res.Status
	if again := Evaluate(Input{Now: at(time.Hour), Request: q, Seals: keys}); len(again.Events) != 0 {
		t.Errorf("the second evaluation reported %+v, want nothing new", again.Events)
	}
	// A real approval is not marked.
	q.Status.Conditions = nil
	d := approve("manager", "m")
	d.Seal = keys.Sign(seal.Decision("uid-q", 0, d)...)
	q.Status.Decisions = []v1alpha1.ReviewDecision{d}
	q.Status.Outcome = sealedOutcome(keys, "uid-q", v1alpha1.PhaseApproved, t0)
	if res := Evaluate(Input{Now: at(0), Request: q, Seals: keys}); meta.FindStatusCondition(res.Status.Conditions, v1alpha1.ConditionOutcomeSealed) != nil {
		t.Errorf("an approval its sealed decisions explain is marked unexplained")
	}
}
