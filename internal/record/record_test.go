package record

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func partner() *v1alpha1.Partner {
	return &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme", UID: "uid-acme"},
		Spec: v1alpha1.PartnerSpec{Program: "global"}}
}

func request(phase v1alpha1.RequestPhase, decisions ...v1alpha1.ReviewDecision) *v1alpha1.ExceptionRequest {
	q := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme-funds", UID: "uid-q"},
		Spec:   v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Partner: "acme"},
		Status: v1alpha1.ExceptionRequestStatus{Phase: phase, Decisions: decisions, ReviewPath: &v1alpha1.ResolvedReviewPath{Name: "funds", Generation: 4}}}
	for _, c := range []string{v1alpha1.ConditionApproved, v1alpha1.ConditionDenied, v1alpha1.ConditionExpired, v1alpha1.ConditionWithdrawn} {
		q.Status.Conditions = append(q.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, Reason: c + "Reason",
			LastTransitionTime: metav1.NewTime(t0.Add(time.Hour))})
	}
	return q
}

func decision(stage, reviewer string, at time.Time) v1alpha1.ReviewDecision {
	t := metav1.NewTime(at)
	return v1alpha1.ReviewDecision{Stage: stage, Decision: v1alpha1.DecisionApprove, Rationale: "checked", Reviewer: reviewer, Time: &t}
}

func TestRecordsAreNamedByTheDecision(t *testing.T) {
	d := v1alpha1.TierDecision{Time: metav1.NewTime(t0), From: "select", To: "advanced", Reason: "Promoted",
		Evidence: []v1alpha1.EvidenceValue{{Metric: "revenue", Value: "600000"}}, TierGeneration: 3, ProgramGeneration: 7}
	other := d
	other.To = "premier"
	renamed := partner()
	renamed.UID = "uid-other"
	tests := map[string]struct {
		a, b     string
		wantSame bool
	}{
		"the same tier decision built twice has one name":    {TierChangeName(partner(), d), TierChangeName(partner(), d), true},
		"another decision has another name":                  {TierChangeName(partner(), d), TierChangeName(partner(), other), false},
		"a new partner of the same name has its own records": {TierChangeName(partner(), d), TierChangeName(renamed, d), false},
		"each reviewer decision has its own record": {
			StageDecisions(request(v1alpha1.PhasePending, decision("manager", "alice", t0), decision("finance", "bob", t0)), "global", 0, time.Hour, nil)[0].Name,
			StageDecisions(request(v1alpha1.PhasePending, decision("manager", "alice", t0), decision("finance", "bob", t0)), "global", 0, time.Hour, nil)[1].Name, false,
		},
		"a decision recorded again after a crash keeps its name": {
			StageDecisions(request(v1alpha1.PhasePending, decision("manager", "alice", t0), decision("finance", "bob", t0)), "global", 1, time.Hour, nil)[0].Name,
			StageDecisions(request(v1alpha1.PhasePending, decision("manager", "alice", t0), decision("finance", "bob", t0)), "global", 0, time.Hour, nil)[1].Name, true,
		},
		"approval and expiry of one request are two records": {
			Outcome(request(v1alpha1.PhaseApproved), "global", "ctrl", time.Hour).Name, Outcome(request(v1alpha1.PhaseExpired), "global", "ctrl", time.Hour).Name, false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if (tc.a == tc.b) != tc.wantSame {
				t.Errorf("names %q and %q: same = %v, want %v", tc.a, tc.b, tc.a == tc.b, tc.wantSame)
			}
			if len(tc.a) > 63 {
				t.Errorf("name %q is longer than 63 characters", tc.a)
			}
		})
	}
}

func TestRecordContents(t *testing.T) {
	d := v1alpha1.TierDecision{Time: metav1.NewTime(t0), From: "select", To: "advanced", Reason: "Promoted", Message: "m",
		Evidence: []v1alpha1.EvidenceValue{{Metric: "revenue", Value: "600000"}}, TierGeneration: 3, ProgramGeneration: 7, Request: "acme-promote"}
	tier := TierChange(partner(), d, "partnergov-controller", 24*time.Hour)
	if s := tier.Spec; s.Type != recordsv1alpha1.DecisionTierChange || s.From != "select" || s.To != "advanced" || s.Actor != "partnergov-controller" ||
		s.PolicyGenerations.Tier != 3 || s.PolicyGenerations.Program != 7 || len(s.Evidence) != 1 || s.Request != "acme-promote" ||
		!s.RetainUntil.Equal(&metav1.Time{Time: t0.Add(24 * time.Hour)}) || tier.Labels[LabelPartner] != "acme" {
		t.Errorf("tier change record = %+v", tier)
	}
	stage := StageDecisions(request(v1alpha1.PhasePending, decision("manager", "alice", t0)), "global", 0, time.Hour, nil)
	if len(stage) != 1 || stage[0].Spec.Actor != "alice" || stage[0].Spec.Stage != "manager" || stage[0].Spec.Reason != "Approve" ||
		stage[0].Spec.PolicyGenerations.ReviewPath != 4 {
		t.Errorf("stage decision records = %+v", stage)
	}
	expired := Outcome(request(v1alpha1.PhaseExpired), "global", "ctrl", time.Hour)
	if expired.Spec.Type != recordsv1alpha1.DecisionGrantExpiry || !expired.Spec.Time.Equal(&metav1.Time{Time: t0.Add(time.Hour)}) {
		t.Errorf("expiry record = %+v", expired.Spec)
	}
	if Outcome(request(v1alpha1.PhasePending), "global", "ctrl", time.Hour) != nil {
		t.Error("a pending request has no outcome to record")
	}
	long := d
	long.Message = strings.Repeat("x", 5000)
	if n := len(TierChange(partner(), long, "c", time.Hour).Spec.Message); n > 2048 {
		t.Errorf("message of %d bytes exceeds the API's 2048", n)
	}
}

func TestExpired(t *testing.T) {
	rec := func(until time.Time) recordsv1alpha1.DecisionRecord {
		return recordsv1alpha1.DecisionRecord{Spec: recordsv1alpha1.DecisionRecordSpec{RetainUntil: metav1.NewTime(until)}}
	}
	got := Expired([]recordsv1alpha1.DecisionRecord{rec(t0.Add(-time.Second)), rec(t0), rec(t0.Add(time.Second))}, t0)
	if len(got) != 2 {
		t.Errorf("%d records expired at their retainUntil, want 2 (past and now)", len(got))
	}
}

func TestAPartnerNameTooLongForALabelStillGetsItsRecord(t *testing.T) {
	p := partner()
	p.Name = strings.Repeat("a", 70)
	r := TierChange(p, v1alpha1.TierDecision{Time: metav1.NewTime(t0), To: "select", Reason: "Promoted"}, "c", time.Hour)
	if _, labelled := r.Labels[LabelPartner]; labelled {
		t.Errorf("a %d-character partner name was put in a label, which the API server refuses", len(p.Name))
	}
	if r.Spec.Partner != p.Name || len(r.Name) > 63 {
		t.Errorf("record %q for partner %q", r.Name, r.Spec.Partner)
	}
}

func TestUnrecorded(t *testing.T) {
	d := decision("manager", "alice@example.com", t0)
	recorded := func(q *v1alpha1.ExceptionRequest, decisions int32, phase v1alpha1.RequestPhase) *v1alpha1.ExceptionRequest {
		q.Status.RecordedDecisions, q.Status.RecordedPhase = decisions, phase
		return q
	}
	for name, tc := range map[string]struct {
		q    *v1alpha1.ExceptionRequest
		want string
	}{
		"a new request stores nothing to record":            {request(v1alpha1.PhasePending), ""},
		"a decision not yet recorded":                       {request(v1alpha1.PhasePending, d), "1 review decision(s)"},
		"every decision recorded":                           {recorded(request(v1alpha1.PhasePending, d, d), 2, ""), ""},
		"an outcome not yet recorded":                       {recorded(request(v1alpha1.PhaseWithdrawn, d), 1, ""), "its outcome (Withdrawn)"},
		"an outcome recorded":                               {recorded(request(v1alpha1.PhaseWithdrawn, d), 1, v1alpha1.PhaseWithdrawn), ""},
		"an expiry after a recorded approval is unrecorded": {recorded(request(v1alpha1.PhaseExpired, d), 1, v1alpha1.PhaseApproved), "its outcome (Expired)"},
		"both": {request(v1alpha1.PhaseDenied, d), "1 review decision(s) and its outcome (Denied)"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Unrecorded(tc.q); got != tc.want {
				t.Errorf("Unrecorded = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDealTransitionsAreRecordedOnceEach(t *testing.T) {
	d := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "globex-sync", UID: "uid-d"},
		Spec: v1alpha1.DealRegistrationSpec{Partner: "acme"},
		Status: v1alpha1.DealRegistrationStatus{RecordedSequence: 1, Request: "globex-sync-review", History: []v1alpha1.DealEvent{
			{Sequence: 1, Time: metav1.NewTime(t0), Phase: v1alpha1.DealSubmitted, Reason: "Submitted"},
			{Sequence: 2, Time: metav1.NewTime(t0.Add(time.Second)), Phase: v1alpha1.DealUnderReview, Reason: "Review"},
			{Sequence: 3, Time: metav1.NewTime(t0.Add(time.Hour)), Phase: v1alpha1.DealApproved, Reason: v1alpha1.ReasonDealReviewed, Message: "approved"},
		}}}
	recs := DealTransitions(d, "global", "controller", time.Hour)
	if len(recs) != 2 {
		t.Fatalf("%d records, want the two transitions after recordedSequence 1", len(recs))
	}
	if r := recs[1].Spec; r.From != string(v1alpha1.DealUnderReview) || r.To != string(v1alpha1.DealApproved) || r.Subject.Kind != "DealRegistration" ||
		r.Partner != "acme" || r.Request != "globex-sync-review" || !r.RetainUntil.Equal(&metav1.Time{Time: t0.Add(2 * time.Hour)}) {
		t.Errorf("record %+v", r)
	}
	again := DealTransitions(d, "global", "controller", time.Hour)
	if again[0].Name != recs[0].Name || again[1].Name != recs[1].Name || recs[0].Name == recs[1].Name {
		t.Errorf("record names must be fixed per transition and differ between them: %s %s", recs[0].Name, recs[1].Name)
	}
	d.Status.RecordedSequence = 3
	if n := len(DealTransitions(d, "global", "controller", time.Hour)); n != 0 {
		t.Errorf("%d records once everything is recorded", n)
	}
}

func TestADealDecisionWaitsForRecordsOnlyWhenItWouldDropAnUnrecordedTransition(t *testing.T) {
	events := func(seqs ...int64) []v1alpha1.DealEvent {
		var out []v1alpha1.DealEvent
		for _, s := range seqs {
			out = append(out, v1alpha1.DealEvent{Sequence: s, Phase: v1alpha1.DealApproved})
		}
		return out
	}
	for name, tc := range map[string]struct {
		stored, next []v1alpha1.DealEvent
		recorded     int64
		want         []int64
	}{
		"a new transition, nothing trimmed":                  {events(1, 2), events(1, 2, 3), 0, nil},
		"a recorded transition trimmed":                      {events(1, 2, 3), events(2, 3, 4), 1, nil},
		"an unrecorded transition trimmed":                   {events(1, 2, 3), events(2, 3, 4), 0, []int64{1}},
		"two unrecorded trimmed, a recorded one before them": {events(4, 5, 6, 7), events(7, 8), 4, []int64{5, 6}},
		"nothing stored":                                     {nil, events(1), 0, nil},
	} {
		t.Run(name, func(t *testing.T) {
			got := DealTransitionsDropped(tc.stored, tc.next, tc.recorded)
			if len(got) != len(tc.want) {
				t.Fatalf("dropped %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("dropped %v, want %v", got, tc.want)
				}
			}
		})
	}
}
