package guard

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestDealStatus(t *testing.T) {
	crm := v1alpha1.Identities{Users: []string{"crm@example.com"}}
	reg := func(phase v1alpha1.DealPhase, outcome *v1alpha1.DealOutcome) *v1alpha1.DealRegistration {
		return &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "d1"},
			Status: v1alpha1.DealRegistrationStatus{Phase: phase, Outcome: outcome}}
	}
	won := &v1alpha1.DealOutcome{Result: v1alpha1.DealResultWon, ClosedAt: metav1.NewTime(now), Amount: &v1alpha1.Money{Amount: "1000", Currency: "USD"}}
	reported := won.DeepCopy()
	reported.ReportedBy = "crm@example.com"
	lost := &v1alpha1.DealOutcome{Result: v1alpha1.DealResultLost, ClosedAt: metav1.NewTime(now.Add(-time.Hour))}
	claim := v1alpha1.Influencer{Partner: "nimbus", Role: v1alpha1.InfluenceTechnicalWin, At: metav1.NewTime(now.Add(-time.Hour))}
	confirming := func(r *v1alpha1.DealRegistration, by string) *v1alpha1.DealRegistration {
		r.Status.InfluenceConfirmations = []v1alpha1.InfluenceConfirmation{{Influencer: claim, ConfirmedBy: by}}
		return r
	}
	controller := Writer{Username: ctrlr, Controller: true}
	crmWriter := Writer{Username: "crm@example.com"}
	for name, tc := range map[string]struct {
		old, new       *v1alpha1.DealRegistration
		w              Writer
		wantRefuse     string
		wantReportedBy string
		// wantConfirmedBy is who the stored confirmation names.
		wantConfirmedBy string
	}{
		// Influence is confirmed, not declared: only the CRM confirms a claim,
		// stamped with its identity, and not once the outcome is reported.
		"the CRM confirms an influence claim, stamped":                   {old: reg(v1alpha1.DealApproved, nil), new: confirming(reg(v1alpha1.DealApproved, nil), "the-cfo"), w: crmWriter, wantConfirmedBy: "crm@example.com"},
		"a stored confirmation keeps who confirmed it":                   {old: confirming(reg(v1alpha1.DealApproved, nil), "crm@example.com"), new: confirming(reg(v1alpha1.DealApproved, nil), "the-cfo"), w: Writer{Username: "crm2@example.com"}, wantConfirmedBy: "crm@example.com"},
		"the CRM reports the outcome and its confirmations in one write": {old: reg(v1alpha1.DealApproved, nil), new: confirming(reg(v1alpha1.DealApproved, won), ""), w: crmWriter, wantReportedBy: "crm@example.com", wantConfirmedBy: "crm@example.com"},
		"confirmations are fixed once the outcome is reported":           {old: reg(v1alpha1.DealWon, reported), new: confirming(reg(v1alpha1.DealWon, reported), ""), w: crmWriter, wantRefuse: "fixed once its outcome is reported"},
		"a seller cannot confirm its own influence claim":                {old: reg(v1alpha1.DealApproved, nil), new: confirming(reg(v1alpha1.DealApproved, nil), ""), w: Writer{Username: "seller@example.com"}, wantRefuse: "crmReporters"},
		"the controller cannot confirm influence":                        {old: reg(v1alpha1.DealApproved, nil), new: confirming(reg(v1alpha1.DealApproved, nil), ""), w: controller, wantRefuse: "does not confirm influence"},
		"the controller writes the standing":                             {old: reg(v1alpha1.DealQueued, nil), new: reg(v1alpha1.DealApproved, nil), w: controller},
		"the controller cannot report an outcome":                        {old: reg(v1alpha1.DealApproved, nil), new: reg(v1alpha1.DealApproved, won), w: controller, wantRefuse: "does not write a deal's outcome"},
		"the CRM reports an outcome, stamped":                            {old: reg(v1alpha1.DealApproved, nil), new: reg(v1alpha1.DealApproved, won), w: crmWriter, wantReportedBy: "crm@example.com"},
		"a forged reporter is replaced":                                  {old: reg(v1alpha1.DealApproved, nil), new: reg(v1alpha1.DealApproved, func() *v1alpha1.DealOutcome { o := won.DeepCopy(); o.ReportedBy = "the-cfo"; return o }()), w: crmWriter, wantReportedBy: "crm@example.com"},
		"the CRM cannot change the phase":                                {old: reg(v1alpha1.DealQueued, nil), new: reg(v1alpha1.DealApproved, won), w: crmWriter, wantRefuse: "may not change status.phase"},
		"the CRM cannot change a reported outcome":                       {old: reg(v1alpha1.DealWon, reported), new: reg(v1alpha1.DealWon, lost), w: crmWriter, wantRefuse: "cannot change"},
		"the CRM cannot remove a reported outcome":                       {old: reg(v1alpha1.DealWon, reported), new: reg(v1alpha1.DealWon, nil), w: crmWriter, wantRefuse: "stays"},
		"the CRM may re-send the outcome it reported":                    {old: reg(v1alpha1.DealWon, reported), new: reg(v1alpha1.DealWon, won), w: crmWriter, wantReportedBy: "crm@example.com"},
		"an identity the program does not trust":                         {old: reg(v1alpha1.DealApproved, nil), new: reg(v1alpha1.DealApproved, won), w: Writer{Username: "seller@example.com"}, wantRefuse: "crmReporters"},
	} {
		t.Run(name, func(t *testing.T) {
			got, refusal := DealStatus(tc.old, tc.new, tc.w, v1alpha1.Identities{Users: append(crm.Users, "crm2@example.com")})
			if tc.wantRefuse != "" {
				if refusal == nil || !strings.Contains(refusal.Message, tc.wantRefuse) {
					t.Fatalf("refusal = %v, want one containing %q", refusal, tc.wantRefuse)
				}
				return
			}
			if refusal != nil {
				t.Fatalf("refused: %s", refusal.Message)
			}
			if tc.wantReportedBy != "" && (got.Outcome == nil || got.Outcome.ReportedBy != tc.wantReportedBy) {
				t.Errorf("outcome %+v, want reportedBy %s", got.Outcome, tc.wantReportedBy)
			}
			if tc.wantConfirmedBy != "" && (len(got.InfluenceConfirmations) != 1 || got.InfluenceConfirmations[0].ConfirmedBy != tc.wantConfirmedBy) {
				t.Errorf("confirmations %+v, want one confirmed by %s", got.InfluenceConfirmations, tc.wantConfirmedBy)
			}
		})
	}
}
