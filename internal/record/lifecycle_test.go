package record

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestLifecycleRecordsAreNamedByTheTransition(t *testing.T) {
	tr := v1alpha1.LifecycleTransition{Time: metav1.NewTime(t0), From: v1alpha1.LifecycleOnboarding, To: v1alpha1.LifecycleProbation,
		Reason: v1alpha1.ReasonOnboardingStepOverdue, Message: "onboarding step sales-certification is overdue"}
	back := tr
	back.From, back.To, back.Reason = v1alpha1.LifecycleProbation, v1alpha1.LifecycleActive, v1alpha1.ReasonProbationLifted
	later := tr
	later.Time = metav1.NewTime(t0.Add(time.Hour))
	reworded := tr
	reworded.Message = "another wording"
	other := partner()
	other.UID = "uid-other"
	tests := map[string]struct {
		a, b     string
		wantSame bool
	}{
		"the same transition built twice has one name":         {LifecycleChangeName(partner(), tr), LifecycleChangeName(partner(), tr), true},
		"the message does not name the record":                 {LifecycleChangeName(partner(), tr), LifecycleChangeName(partner(), reworded), true},
		"the way back is another record":                       {LifecycleChangeName(partner(), tr), LifecycleChangeName(partner(), back), false},
		"the same move again later is another record":          {LifecycleChangeName(partner(), tr), LifecycleChangeName(partner(), later), false},
		"a new partner of the same name has its own records":   {LifecycleChangeName(partner(), tr), LifecycleChangeName(other, tr), false},
		"a lifecycle record is never named as a tier decision": {LifecycleChangeName(partner(), tr), TierChangeName(partner(), v1alpha1.TierDecision{Time: tr.Time}), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if same := tc.a == tc.b; same != tc.wantSame {
				t.Fatalf("names %q and %q: same = %v, want %v", tc.a, tc.b, same, tc.wantSame)
			}
			if len(tc.a) > 63 {
				t.Fatalf("name %q is longer than 63 characters", tc.a)
			}
		})
	}
}

func TestLifecycleRecordKeepsTheTransition(t *testing.T) {
	tr := v1alpha1.LifecycleTransition{Time: metav1.NewTime(t0), From: v1alpha1.LifecycleActive, To: v1alpha1.LifecycleProbation,
		Reason: v1alpha1.ReasonRiskThresholdExceeded, Message: "Risk metric escalations is 4, above its probationAbove 3"}
	r := LifecycleChange(partner(), tr, "partnergov-controller", 24*time.Hour)
	want := recordsv1alpha1.DecisionRecordSpec{Type: recordsv1alpha1.DecisionLifecycleChange,
		Subject: recordsv1alpha1.DecisionSubject{Kind: "Partner", Name: "acme", UID: "uid-acme"}, Partner: "acme", Program: "global",
		Time: metav1.NewTime(t0), Actor: "partnergov-controller", Reason: v1alpha1.ReasonRiskThresholdExceeded, Message: tr.Message,
		From: "Active", To: "Probation", RetainUntil: metav1.NewTime(t0.Add(24 * time.Hour))}
	if r.Namespace != "partners" || r.Labels[LabelType] != string(recordsv1alpha1.DecisionLifecycleChange) || r.Labels[LabelPartner] != "acme" {
		t.Fatalf("record metadata %+v", r.ObjectMeta)
	}
	if r.Spec.Type != want.Type || r.Spec.Subject != want.Subject || r.Spec.Partner != want.Partner || r.Spec.Program != want.Program ||
		!r.Spec.Time.Equal(&want.Time) || r.Spec.Actor != want.Actor || r.Spec.Reason != want.Reason || r.Spec.Message != want.Message ||
		r.Spec.From != want.From || r.Spec.To != want.To || !r.Spec.RetainUntil.Equal(&want.RetainUntil) {
		t.Fatalf("record spec\n got %+v\nwant %+v", r.Spec, want)
	}
}
