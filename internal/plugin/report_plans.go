package plugin

import (
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// PlanAttainment counts the goals of a program's approved, current joint
// business plans by state.
type PlanAttainment struct {
	// Plans counts the plans.
	Plans int
	// Met, OnTrack and Behind count their goals by state (status.goals).
	Met, OnTrack, Behind int
}

// planAttainment counts the goals of the approved plans (status.phase Approved:
// approved and within their period) of program's partners.
func planAttainment(program *v1alpha1.PartnerProgram, partners []v1alpha1.Partner, plans []v1alpha1.JointBusinessPlan) PlanAttainment {
	type key struct{ namespace, name string }
	ofProgram := map[key]bool{}
	for _, p := range partners {
		if p.Spec.Program == program.Name {
			ofProgram[key{p.Namespace, p.Name}] = true
		}
	}
	var a PlanAttainment
	for _, p := range plans {
		if p.Status.Phase != v1alpha1.PlanApproved || !ofProgram[key{p.Namespace, p.Spec.Partner}] {
			continue
		}
		a.Plans++
		for _, g := range p.Status.Goals {
			switch g.State {
			case v1alpha1.GoalMet:
				a.Met++
			case v1alpha1.GoalOnTrack:
				a.OnTrack++
			case v1alpha1.GoalBehind:
				a.Behind++
			}
		}
	}
	return a
}
