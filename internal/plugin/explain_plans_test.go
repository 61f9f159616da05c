package plugin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestWriteExplanationShowsEnablementAndPlanProgress(t *testing.T) {
	p := testPartner()
	p.Status.Enablement = &v1alpha1.PartnerEnablement{Tier: "select", Required: []v1alpha1.RequiredTrack{{Track: "sales-foundations", Tier: "select"}}}
	tiers := testTiers()
	tiers[0].Spec.RequiresBusinessPlan = true // premier
	e := explain(p, testProgram(), tiers, now)
	due := metav1.NewTime(now.Add(10 * 24 * time.Hour))
	e.Plans = []v1alpha1.JointBusinessPlan{{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-fy"},
		Spec:       v1alpha1.JointBusinessPlanSpec{Period: v1alpha1.PlanPeriod{Kind: v1alpha1.PlanYear, Start: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}},
		Status: v1alpha1.JointBusinessPlanStatus{Phase: v1alpha1.PlanApproved, NextReviewDue: &due, Goals: []v1alpha1.GoalProgress{
			{Metric: "revenue", Target: "1000", Current: "150", Expected: "400", State: v1alpha1.GoalBehind},
		}},
	}}
	var out bytes.Buffer
	if err := writeExplanation(&out, e); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Next tier premier (rank 2):", "requires an approved, current joint business plan",
		"Required enablement (status.enablement):", "sales-foundations",
		"Joint business plans:", "acme-fy: Year from 2026-01-01, Approved; business review due",
		"revenue", "Behind",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, out.String())
		}
	}
}
