package guard

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
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

// The deal's outcome and influence confirmations are sealed by the guard that
// stamps who reported them; an outcome stored without a valid seal was never
// reported, so the CRM may report over it; the controller adds a seal only to
// an unsealed outcome or confirmation (adoption), and only one that verifies.
func TestTheDealGuardSealsTheOutcomeAndConfirmations(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	other, _ := seal.New([]byte(strings.Repeat("o", 32)))
	crm := v1alpha1.Identities{Users: []string{"crm@example.com"}}
	claim := v1alpha1.Influencer{Partner: "nimbus", Role: v1alpha1.InfluenceTechnicalWin, At: metav1.NewTime(now.Add(-time.Hour))}
	won := func(by string, k *seal.Keys) *v1alpha1.DealOutcome {
		o := &v1alpha1.DealOutcome{Result: v1alpha1.DealResultWon, ClosedAt: metav1.NewTime(now), Amount: &v1alpha1.Money{Amount: "1000", Currency: "USD"}, ReportedBy: by}
		o.Seal = k.Sign(seal.Outcome("uid-d1", *o)...)
		return o
	}
	conf := func(by string, k *seal.Keys) []v1alpha1.InfluenceConfirmation {
		c := v1alpha1.InfluenceConfirmation{Influencer: claim, ConfirmedBy: by}
		c.Seal = k.Sign(seal.Confirmation("uid-d1", c)...)
		return []v1alpha1.InfluenceConfirmation{c}
	}
	reg := func(o *v1alpha1.DealOutcome, cs []v1alpha1.InfluenceConfirmation) *v1alpha1.DealRegistration {
		return &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "d1", UID: "uid-d1"},
			Status: v1alpha1.DealRegistrationStatus{Phase: v1alpha1.DealApproved, Outcome: o, InfluenceConfirmations: cs}}
	}
	var nokey *seal.Keys
	crmWriter := Writer{Username: "crm@example.com", Seals: keys}
	controller := Writer{Username: ctrlr, Controller: true, Seals: keys}
	for name, tc := range map[string]struct {
		old, new *v1alpha1.DealRegistration
		w        Writer
		// wantRefuse is part of the refusal; otherwise the stored seals are
		// wantOutcome and wantConfirmation.
		wantRefuse, wantOutcome, wantConfirmation string
	}{
		"the CRM's outcome is sealed with its reporter":          {old: reg(nil, nil), new: reg(won("", nokey), nil), w: crmWriter, wantOutcome: won("crm@example.com", keys).Seal},
		"the CRM's confirmation is sealed with its confirmer":    {old: reg(nil, nil), new: reg(nil, conf("", nokey)), w: crmWriter, wantConfirmation: conf("crm@example.com", keys)[0].Seal},
		"a seal the writer sends is replaced":                    {old: reg(nil, nil), new: reg(won("", other), conf("", other)), w: crmWriter, wantOutcome: won("crm@example.com", keys).Seal, wantConfirmation: conf("crm@example.com", keys)[0].Seal},
		"a stored outcome keeps its seal when re-sent":           {old: reg(won("crm@example.com", keys), nil), new: reg(won("", nokey), nil), w: crmWriter, wantOutcome: won("crm@example.com", keys).Seal},
		"a sealed outcome cannot change":                         {old: reg(won("crm@example.com", keys), nil), new: reg(&v1alpha1.DealOutcome{Result: v1alpha1.DealResultLost, ClosedAt: metav1.NewTime(now)}, nil), w: crmWriter, wantRefuse: "cannot change"},
		"an outcome forged past the webhook is reported over":    {old: reg(won("crm@example.com", other), nil), new: reg(&v1alpha1.DealOutcome{Result: v1alpha1.DealResultLost, ClosedAt: metav1.NewTime(now)}, nil), w: crmWriter},
		"a forged confirmation is confirmed again by the writer": {old: reg(nil, conf("the-cfo", other)), new: reg(nil, conf("the-cfo", other)), w: crmWriter, wantConfirmation: conf("crm@example.com", keys)[0].Seal},
		"the controller seals an unsealed outcome":               {old: reg(won("crm@example.com", nokey), conf("crm@example.com", nokey)), new: reg(won("crm@example.com", keys), conf("crm@example.com", keys)), w: controller, wantOutcome: won("crm@example.com", keys).Seal, wantConfirmation: conf("crm@example.com", keys)[0].Seal},
		"the controller cannot seal under another key":           {old: reg(won("crm@example.com", nokey), nil), new: reg(won("crm@example.com", other), nil), w: controller, wantRefuse: "does not write a deal's outcome"},
		"the controller cannot replace a stored seal":            {old: reg(nil, conf("crm@example.com", other)), new: reg(nil, conf("crm@example.com", keys)), w: controller, wantRefuse: "does not confirm influence"},
		"the controller cannot change a sealed outcome":          {old: reg(won("crm@example.com", nokey), nil), new: reg(won("the-cfo", keys), nil), w: controller, wantRefuse: "does not write a deal's outcome"},
		"with sealing off the controller adds no seal":           {old: reg(won("crm@example.com", nokey), nil), new: reg(won("crm@example.com", keys), nil), w: Writer{Username: ctrlr, Controller: true}, wantRefuse: "does not write a deal's outcome"},
	} {
		t.Run(name, func(t *testing.T) {
			got, refusal := DealStatus(tc.old, tc.new, tc.w, crm)
			if tc.wantRefuse != "" {
				if refusal == nil || !strings.Contains(refusal.Message, tc.wantRefuse) {
					t.Fatalf("refusal = %v, want one containing %q", refusal, tc.wantRefuse)
				}
				return
			}
			if refusal != nil {
				t.Fatalf("refused: %s", refusal.Message)
			}
			if tc.wantOutcome != "" && (got.Outcome == nil || got.Outcome.Seal != tc.wantOutcome) {
				t.Errorf("outcome %+v, want seal %s", got.Outcome, tc.wantOutcome)
			}
			if tc.wantConfirmation != "" && (len(got.InfluenceConfirmations) != 1 || got.InfluenceConfirmations[0].Seal != tc.wantConfirmation) {
				t.Errorf("confirmations %+v, want seal %s", got.InfluenceConfirmations, tc.wantConfirmation)
			}
		})
	}
}
