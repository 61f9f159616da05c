package plugin

import (
	"slices"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Chart ids and bar colours of the report's lifecycle charts.
const (
	chartPhasesID = "chart-phases"
	chartFunnelID = "chart-onboarding"
	colorPhase    = "#be185d" // pink
	colorFunnel   = "#ca8a04" // ochre
)

// StageCount is a number of partners at one stage of their life in the program.
type StageCount struct {
	Label string
	Count int
}

// lifecyclePhases are the phases in the order of a partner's life.
var lifecyclePhases = []v1alpha1.LifecyclePhase{v1alpha1.LifecycleOnboarding, v1alpha1.LifecycleActive,
	v1alpha1.LifecycleProbation, v1alpha1.LifecycleOffboarding, v1alpha1.LifecycleOffboarded}

// partnersByPhase counts program's partners by status.lifecycle.phase, every
// phase listed (zero included) in the order of a partner's life, then "none"
// for partners without a lifecycle yet when there are any.
func partnersByPhase(program string, partners []v1alpha1.Partner) []StageCount {
	out := make([]StageCount, len(lifecyclePhases))
	for i, ph := range lifecyclePhases {
		out[i].Label = string(ph)
	}
	unset := 0
	for _, p := range partners {
		if p.Spec.Program != program {
			continue
		}
		if p.Status.Lifecycle == nil {
			unset++
			continue
		}
		if i := slices.Index(lifecyclePhases, p.Status.Lifecycle.Phase); i >= 0 {
			out[i].Count++
		}
	}
	if unset > 0 {
		out = append(out, StageCount{Label: none, Count: unset})
	}
	return out
}

// onboardingFunnel is the program's onboarding funnel: the partners that track
// onboarding steps ("joined"), how many of them met each of the program's
// steps, in the program's order, and how many met every step they track
// ("all met"). Empty when the program has no onboarding steps.
func onboardingFunnel(program *v1alpha1.PartnerProgram, partners []v1alpha1.Partner) []StageCount {
	if program.Spec.Onboarding == nil || len(program.Spec.Onboarding.Steps) == 0 {
		return nil
	}
	steps := program.Spec.Onboarding.Steps
	out := []StageCount{{Label: "joined"}}
	for _, s := range steps {
		out = append(out, StageCount{Label: s.Name + " met"})
	}
	out = append(out, StageCount{Label: "all met"})
	for _, p := range partners {
		lc := p.Status.Lifecycle
		if p.Spec.Program != program.Name || lc == nil || len(lc.Onboarding) == 0 {
			continue
		}
		out[0].Count++
		all := true
		for _, st := range lc.Onboarding {
			if st.State != v1alpha1.OnboardingStepMet {
				all = false
				continue
			}
			if i := slices.IndexFunc(steps, func(s v1alpha1.OnboardingStep) bool { return s.Name == st.Name }); i >= 0 {
				out[i+1].Count++
			}
		}
		if all {
			out[len(out)-1].Count++
		}
	}
	return out
}

// lifecycleCharts are the report's partners-by-phase chart and onboarding funnel.
func lifecycleCharts(d ReportData) []barChart {
	chart := func(id, title, empty string, stages []StageCount, color string) barChart {
		var labels []string
		var counts []int
		for _, s := range stages {
			labels = append(labels, s.Label)
			counts = append(counts, s.Count)
		}
		return newBarChart(id, title, empty, labels, counts, []string{color})
	}
	return []barChart{
		chart(chartPhasesID, "Partners by lifecycle phase", "no partners", d.Phases, colorPhase),
		chart(chartFunnelID, "Onboarding funnel: partners by steps met", "the program has no onboarding steps", d.Onboarding, colorFunnel),
	}
}
