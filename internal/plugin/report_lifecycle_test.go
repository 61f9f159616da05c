package plugin

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func lifecyclePartner(program string, phase v1alpha1.LifecyclePhase, states ...v1alpha1.OnboardingStepState) v1alpha1.Partner {
	p := v1alpha1.Partner{Spec: v1alpha1.PartnerSpec{Program: program}}
	if phase == "" {
		return p
	}
	p.Status.Lifecycle = &v1alpha1.PartnerLifecycle{Phase: phase}
	for i, s := range states {
		p.Status.Lifecycle.Onboarding = append(p.Status.Lifecycle.Onboarding,
			v1alpha1.OnboardingStepStatus{Name: []string{"sales-certification", "security-review"}[i], State: s, Due: metav1.NewTime(now)})
	}
	return p
}

func onboardingProgram() *v1alpha1.PartnerProgram {
	p := testProgram()
	p.Spec.Onboarding = &v1alpha1.Onboarding{Steps: []v1alpha1.OnboardingStep{{Name: "sales-certification"}, {Name: "security-review"}}}
	return p
}

func lifecycleFixture() []v1alpha1.Partner {
	met, due, overdue := v1alpha1.OnboardingStepMet, v1alpha1.OnboardingStepDue, v1alpha1.OnboardingStepOverdue
	return []v1alpha1.Partner{
		lifecyclePartner("global", v1alpha1.LifecycleOnboarding, due, due),
		lifecyclePartner("global", v1alpha1.LifecycleOnboarding, met, due),
		lifecyclePartner("global", v1alpha1.LifecycleProbation, met, overdue),
		lifecyclePartner("global", v1alpha1.LifecycleActive, met, met),
		lifecyclePartner("global", v1alpha1.LifecycleActive), // active before the program had onboarding
		lifecyclePartner("global", ""),                       // not evaluated yet
		lifecyclePartner("elsewhere", v1alpha1.LifecycleProbation, overdue, overdue),
	}
}

func TestPartnersByPhaseCountsEveryPhaseInTheOrderOfALife(t *testing.T) {
	got := partnersByPhase("global", lifecycleFixture())
	want := []StageCount{{"Onboarding", 2}, {"Active", 2}, {"Probation", 1}, {"Offboarding", 0}, {"Offboarded", 0}, {"-", 1}}
	if len(got) != len(want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("phases %v, want %v", got, want)
		}
	}
}

func TestOnboardingFunnelCountsPartnersByStepsMet(t *testing.T) {
	got := onboardingFunnel(onboardingProgram(), lifecycleFixture())
	want := []StageCount{{"joined", 4}, {"sales-certification met", 3}, {"security-review met", 1}, {"all met", 1}}
	if len(got) != len(want) {
		t.Fatalf("funnel %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("funnel %v, want %v", got, want)
		}
	}
	if f := onboardingFunnel(testProgram(), lifecycleFixture()); f != nil {
		t.Errorf("a program without onboarding has a funnel: %v", f)
	}
}

func TestRenderReportDrawsTheLifecycleCharts(t *testing.T) {
	d := reportFixture()
	d.Phases = partnersByPhase("global", lifecycleFixture())
	d.Onboarding = onboardingFunnel(onboardingProgram(), lifecycleFixture())
	page, err := RenderReport(d)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		`<svg id="chart-phases"`, ">Partners by lifecycle phase</text>", "<title>Probation: 1</title>",
		`<svg id="chart-onboarding"`, ">Onboarding funnel: partners by steps met</text>",
		"<title>joined: 4</title>", "<title>sales-certification met: 3</title>", "<title>all met: 1</title>",
		`fill="` + colorPhase + `"`, `fill="` + colorFunnel + `"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	empty, err := RenderReport(ReportData{Program: "global", GeneratedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(empty), ">the program has no onboarding steps</text>") {
		t.Errorf("a report without onboarding does not say so")
	}
}
