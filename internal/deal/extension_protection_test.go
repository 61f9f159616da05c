package deal

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// TestAnExtensionRequestThatGivesNothingDoesNotHoldProtection: an extension
// under review holds a registration's protection past protectedUntil only
// while it is really being decided. One Approved that no sealed decision
// explains (written past the webhooks: final, so no SLA ever ends it) or one
// held because its status is behind its records (StatusBehindRecords: it
// decides nothing, its SLA frozen) would hold the customer for good; the
// protection ends when it was due.
func TestAnExtensionRequestThatGivesNothingDoesNotHoldProtection(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	day := 24 * time.Hour
	approved := func() *v1alpha1.DealRegistration {
		return registration("d1", now, inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
			s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-91 * day)}, &metav1.Time{Time: now.Add(-day)}
			s.Extension = &v1alpha1.DealExtension{Request: "d1-extension-uid-d1"}
		}), func(d *v1alpha1.DealRegistration) {
			d.Spec.ExtensionRequested = true
			d.Status.Seal = keys.Sign(seal.Standing(string(d.UID), d.Status)...)
		})
	}
	extension := func(phase v1alpha1.RequestPhase, conds ...metav1.Condition) *v1alpha1.ExceptionRequest {
		return &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Name: "d1-extension-uid-d1"}, Status: v1alpha1.ExceptionRequestStatus{Phase: phase, Conditions: conds}}
	}
	held := metav1.Condition{Type: v1alpha1.ConditionStatusBehindRecords, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonStatusBehindRecords}
	forgedApproval := metav1.Condition{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}
	for name, tc := range map[string]struct {
		q    *v1alpha1.ExceptionRequest
		want v1alpha1.DealPhase
	}{
		"under review, protection holds past protectedUntil":                {extension(v1alpha1.PhasePending), v1alpha1.DealApproved},
		"held behind its records, protection ends when due":                 {extension(v1alpha1.PhasePending, held), v1alpha1.DealExpired},
		"approved without a sealed decision explaining it, protection ends": {extension(v1alpha1.PhaseApproved, forgedApproval), v1alpha1.DealExpired},
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(Input{Now: now, Deal: approved(), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}, Extension: tc.q, Seals: keys})
			if r.Status.Phase != tc.want {
				t.Errorf("phase %s (%s), want %s", r.Status.Phase, r.Status.Message, tc.want)
			}
		})
	}
}
