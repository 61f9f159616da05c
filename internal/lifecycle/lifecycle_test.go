package lifecycle

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var joined = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// program has a Risk metric "escalations" (probationAbove 3), an Enablement
// metric "certifications", and two onboarding steps: a certification within 30
// days and an approved security review within 60. Probation withholds Funds and
// Resell.
func program() *v1alpha1.PartnerProgram {
	return &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "global", Generation: 1},
		Spec: v1alpha1.PartnerProgramSpec{
			Metrics: []v1alpha1.MetricDefinition{
				{Name: "revenue", Class: v1alpha1.MetricClassOutcome},
				{Name: "certifications", Class: v1alpha1.MetricClassEnablement},
				{Name: "escalations", Class: v1alpha1.MetricClassRisk, ProbationAbove: "3"},
			},
			Onboarding: &v1alpha1.Onboarding{Steps: []v1alpha1.OnboardingStep{
				{Name: "sales-certification", Due: metav1.Duration{Duration: 30 * day},
					Evidence: &v1alpha1.TierRequirement{Metric: "certifications", Operator: v1alpha1.OperatorGreaterThanOrEqual, Threshold: "1"}},
				{Name: "security-review", Due: metav1.Duration{Duration: 60 * day},
					Claim: &v1alpha1.OnboardingClaim{Kind: v1alpha1.ReadinessClaimSecurityReview, Product: "connector"}},
			}},
			Probation: &v1alpha1.Probation{Withhold: []v1alpha1.EntitlementName{v1alpha1.EntitlementFunds, v1alpha1.EntitlementResell}},
		},
	}
}

func noOnboarding(p *v1alpha1.PartnerProgram) { p.Spec.Onboarding = nil }

func partner() *v1alpha1.Partner {
	j := metav1.NewTime(joined)
	return &v1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme", UID: "uid", Generation: 1, CreationTimestamp: j},
		Spec:       v1alpha1.PartnerSpec{Program: "global", JoinedAt: &j},
	}
}

// held is what the tier engine computed: Resell, List and Funds.
func held() []v1alpha1.EffectiveEntitlement {
	src := v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: "select"}
	return []v1alpha1.EffectiveEntitlement{
		{Name: v1alpha1.EntitlementResell, Source: src},
		{Name: v1alpha1.EntitlementList, Source: src},
		{Name: v1alpha1.EntitlementFunds, Source: src, Cap: &v1alpha1.Money{Amount: "50000", Currency: "USD"}},
	}
}

func at(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func securityClaim(product string) v1alpha1.ApprovedClaim {
	return v1alpha1.ApprovedClaim{Kind: v1alpha1.ReadinessClaimSecurityReview, Product: product, Request: "acme-security"}
}

// stored is a lifecycle as an earlier evaluation stored it.
func stored(phase v1alpha1.LifecyclePhase, since time.Time, steps ...v1alpha1.OnboardingStepStatus) *v1alpha1.PartnerLifecycle {
	return &v1alpha1.PartnerLifecycle{Phase: phase, Since: at(since), Reason: "Earlier", Onboarding: steps}
}

func step(name string, state v1alpha1.OnboardingStepState, due time.Duration, metAt *metav1.Time) v1alpha1.OnboardingStepStatus {
	return v1alpha1.OnboardingStepStatus{Name: name, State: state, Due: metav1.NewTime(joined.Add(due)), MetAt: metAt}
}

type want struct {
	phase        v1alpha1.LifecyclePhase
	reason       string
	entitlements []v1alpha1.EntitlementName
	withheld     []v1alpha1.EntitlementName
	// transition is from->to:reason, "" for none.
	transition string
	steps      map[string]v1alpha1.OnboardingStepState
	probation  bool
	next       *time.Time
}

func TestLifecycleRules(t *testing.T) {
	all := []v1alpha1.EntitlementName{v1alpha1.EntitlementResell, v1alpha1.EntitlementList, v1alpha1.EntitlementFunds}
	keepsList := []v1alpha1.EntitlementName{v1alpha1.EntitlementList}
	fundsResell := []v1alpha1.EntitlementName{v1alpha1.EntitlementResell, v1alpha1.EntitlementFunds}
	due30, due60 := joined.Add(30*day), joined.Add(60*day)
	effective := joined.Add(100 * day)
	tests := map[string]struct {
		now      time.Time
		program  func(*v1alpha1.PartnerProgram)
		partner  func(*v1alpha1.Partner)
		evidence map[string]v1alpha1.Decimal
		claims   []v1alpha1.ApprovedClaim
		want     want
	}{
		"a new partner of a program without onboarding is Active without a transition": {
			now: joined.Add(time.Hour), program: noOnboarding,
			want: want{phase: v1alpha1.LifecycleActive, reason: v1alpha1.ReasonInGoodStanding, entitlements: all},
		},
		// Onboarding cannot be skipped by timing: a status the controller wrote
		// before the program reached its cache says nothing about onboarding.
		"a partner whose status was written before its program was seen still goes through onboarding": {
			now: joined.Add(time.Hour), partner: func(p *v1alpha1.Partner) { p.Status.ObservedGeneration = 1 },
			want: want{phase: v1alpha1.LifecycleOnboarding, reason: v1alpha1.ReasonOnboardingStarted, entitlements: all,
				transition: "->Onboarding:OnboardingStarted", next: &due30,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepDue, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"a partner created before the program's adoption time is adopted Active, with a recorded transition": {
			now: joined.Add(200 * day),
			program: func(p *v1alpha1.PartnerProgram) {
				p.Spec.Onboarding.AdoptPartnersCreatedBefore = at(joined.Add(day))
			},
			want: want{phase: v1alpha1.LifecycleActive, reason: v1alpha1.ReasonAdoptedPreExisting, entitlements: all,
				transition: "->Active:AdoptedPreExisting"},
		},
		// A cutoff not yet reached adopts nobody: adoption is of partners that
		// existed before it was decided, not of partners created from now on
		// (a program editor setting it in the future would skip every new
		// partner's onboarding).
		"an adoption time still in the future adopts nobody": {
			now: joined.Add(time.Hour),
			program: func(p *v1alpha1.PartnerProgram) {
				p.Spec.Onboarding.AdoptPartnersCreatedBefore = at(joined.Add(3650 * day))
			},
			want: want{phase: v1alpha1.LifecycleOnboarding, reason: v1alpha1.ReasonOnboardingStarted, entitlements: all,
				transition: "->Onboarding:OnboardingStarted", next: &due30,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepDue, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"a partner created after the program's adoption time goes through onboarding": {
			now: joined.Add(time.Hour),
			program: func(p *v1alpha1.PartnerProgram) {
				p.Spec.Onboarding.AdoptPartnersCreatedBefore = at(joined.Add(-day))
			},
			partner: func(p *v1alpha1.Partner) { p.Status.ObservedGeneration = 1 },
			want: want{phase: v1alpha1.LifecycleOnboarding, reason: v1alpha1.ReasonOnboardingStarted, entitlements: all,
				transition: "->Onboarding:OnboardingStarted", next: &due30,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepDue, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"a new partner with unmet steps is Onboarding until the first falls due": {
			now: joined.Add(time.Hour),
			want: want{phase: v1alpha1.LifecycleOnboarding, reason: v1alpha1.ReasonOnboardingStarted, entitlements: all,
				transition: "->Onboarding:OnboardingStarted", next: &due30,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepDue, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"an overdue onboarding step puts the partner on Probation and withholds what the program says": {
			now:     due30,
			partner: func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleOnboarding, joined) },
			want: want{phase: v1alpha1.LifecycleProbation, reason: v1alpha1.ReasonOnboardingStepOverdue, entitlements: keepsList,
				withheld: fundsResell, probation: true, transition: "Onboarding->Probation:OnboardingStepOverdue", next: &due60,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepOverdue, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"probation withholds nothing when the program names nothing": {
			now:     due30,
			program: func(p *v1alpha1.PartnerProgram) { p.Spec.Probation = nil },
			partner: func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleOnboarding, joined) },
			want: want{phase: v1alpha1.LifecycleProbation, reason: v1alpha1.ReasonOnboardingStepOverdue, entitlements: all, probation: true,
				transition: "Onboarding->Probation:OnboardingStepOverdue", next: &due60,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepOverdue, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"meeting every step returns a partner on probation to Active": {
			now:      due60.Add(day),
			partner:  func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleProbation, due30) },
			evidence: map[string]v1alpha1.Decimal{"certifications": "2"},
			claims:   []v1alpha1.ApprovedClaim{securityClaim("connector")},
			want: want{phase: v1alpha1.LifecycleActive, reason: v1alpha1.ReasonProbationLifted, entitlements: all,
				transition: "Probation->Active:ProbationLifted",
				steps:      map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepMet, "security-review": v1alpha1.OnboardingStepMet}},
		},
		"meeting every step in time completes onboarding": {
			now:      joined.Add(10 * day),
			partner:  func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleOnboarding, joined) },
			evidence: map[string]v1alpha1.Decimal{"certifications": "1"},
			claims:   []v1alpha1.ApprovedClaim{securityClaim("connector")},
			want: want{phase: v1alpha1.LifecycleActive, reason: v1alpha1.ReasonOnboardingComplete, entitlements: all,
				transition: "Onboarding->Active:OnboardingComplete",
				steps:      map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepMet, "security-review": v1alpha1.OnboardingStepMet}},
		},
		"a readiness claim about another product does not meet a step": {
			now:      due60,
			partner:  func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleOnboarding, joined) },
			evidence: map[string]v1alpha1.Decimal{"certifications": "1"},
			claims:   []v1alpha1.ApprovedClaim{securityClaim("other-product")},
			want: want{phase: v1alpha1.LifecycleProbation, reason: v1alpha1.ReasonOnboardingStepOverdue, entitlements: keepsList,
				withheld: fundsResell, probation: true, transition: "Onboarding->Probation:OnboardingStepOverdue",
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepMet, "security-review": v1alpha1.OnboardingStepOverdue}},
		},
		"evidence below the step's threshold does not meet it": {
			now:      due30,
			partner:  func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleOnboarding, joined) },
			evidence: map[string]v1alpha1.Decimal{"certifications": "0"},
			want: want{phase: v1alpha1.LifecycleProbation, reason: v1alpha1.ReasonOnboardingStepOverdue, entitlements: keepsList,
				withheld: fundsResell, probation: true, transition: "Onboarding->Probation:OnboardingStepOverdue", next: &due60,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepOverdue, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"a step once met stays met when its evidence goes": {
			now: due30.Add(day),
			partner: func(p *v1alpha1.Partner) {
				p.Status.Lifecycle = stored(v1alpha1.LifecycleOnboarding, joined,
					step("sales-certification", v1alpha1.OnboardingStepMet, 30*day, at(joined.Add(5*day))),
					step("security-review", v1alpha1.OnboardingStepDue, 60*day, nil))
			},
			want: want{phase: v1alpha1.LifecycleOnboarding, reason: "Earlier", entitlements: all, next: &due60,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepMet, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"a Risk metric above probationAbove puts an Active partner on Probation at once": {
			now: joined.Add(200 * day), program: noOnboarding,
			partner:  func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleActive, joined) },
			evidence: map[string]v1alpha1.Decimal{"escalations": "3.5"},
			want: want{phase: v1alpha1.LifecycleProbation, reason: v1alpha1.ReasonRiskThresholdExceeded, entitlements: keepsList,
				withheld: fundsResell, probation: true, transition: "Active->Probation:RiskThresholdExceeded"},
		},
		"a Risk metric at probationAbove is not above it": {
			now: joined.Add(200 * day), program: noOnboarding,
			partner:  func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleActive, joined) },
			evidence: map[string]v1alpha1.Decimal{"escalations": "3"},
			want:     want{phase: v1alpha1.LifecycleActive, reason: "Earlier", entitlements: all},
		},
		"a Risk breach puts a partner on Probation even while it onboards": {
			now:      joined.Add(day),
			partner:  func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleOnboarding, joined) },
			evidence: map[string]v1alpha1.Decimal{"escalations": "9"},
			want: want{phase: v1alpha1.LifecycleProbation, reason: v1alpha1.ReasonRiskThresholdExceeded, entitlements: keepsList,
				withheld: fundsResell, probation: true, transition: "Onboarding->Probation:RiskThresholdExceeded", next: &due30,
				steps: map[string]v1alpha1.OnboardingStepState{"sales-certification": v1alpha1.OnboardingStepDue, "security-review": v1alpha1.OnboardingStepDue}},
		},
		"recovery of the Risk metric lifts probation": {
			now: joined.Add(200 * day), program: noOnboarding,
			partner: func(p *v1alpha1.Partner) {
				p.Status.Lifecycle = stored(v1alpha1.LifecycleProbation, joined.Add(100*day))
			},
			evidence: map[string]v1alpha1.Decimal{"escalations": "1"},
			want: want{phase: v1alpha1.LifecycleActive, reason: v1alpha1.ReasonProbationLifted, entitlements: all,
				transition: "Probation->Active:ProbationLifted"},
		},
		"an onboarded partner does not go back to Onboarding when the program adds steps": {
			now: joined.Add(5 * day),
			partner: func(p *v1alpha1.Partner) {
				p.Status.Lifecycle = stored(v1alpha1.LifecycleActive, joined)
				p.Status.Lifecycle.OnboardedAt = at(joined)
			},
			want: want{phase: v1alpha1.LifecycleActive, reason: "Earlier", entitlements: all},
		},
		"offboarding before its effective time keeps the entitlements and wakes at it": {
			now: joined.Add(90 * day), program: noOnboarding,
			partner: func(p *v1alpha1.Partner) {
				p.Status.Lifecycle = stored(v1alpha1.LifecycleActive, joined)
				p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(effective)}
			},
			want: want{phase: v1alpha1.LifecycleOffboarding, reason: v1alpha1.ReasonOffboardingScheduled, entitlements: all,
				transition: "Active->Offboarding:OffboardingScheduled", next: &effective},
		},
		"offboarding still withholds what probation withholds": {
			now: joined.Add(90 * day), program: noOnboarding,
			partner: func(p *v1alpha1.Partner) {
				p.Status.Lifecycle = stored(v1alpha1.LifecycleProbation, joined)
				p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(effective)}
			},
			evidence: map[string]v1alpha1.Decimal{"escalations": "9"},
			want: want{phase: v1alpha1.LifecycleOffboarding, reason: v1alpha1.ReasonOffboardingScheduled, entitlements: keepsList,
				withheld: fundsResell, probation: true, transition: "Probation->Offboarding:OffboardingScheduled", next: &effective},
		},
		"offboarded at the effective time withdraws every entitlement": {
			now: effective, program: noOnboarding,
			partner: func(p *v1alpha1.Partner) {
				p.Status.Lifecycle = stored(v1alpha1.LifecycleOffboarding, joined.Add(90*day))
				p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(effective)}
			},
			evidence: map[string]v1alpha1.Decimal{"escalations": "9"},
			want: want{phase: v1alpha1.LifecycleOffboarded, reason: v1alpha1.ReasonOffboardingEffective,
				transition: "Offboarding->Offboarded:OffboardingEffective"},
		},
		"offboarding applies without the program": {
			now: effective, program: nil,
			partner: func(p *v1alpha1.Partner) {
				p.Status.Lifecycle = stored(v1alpha1.LifecycleActive, joined)
				p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(effective)}
			},
			want: want{phase: v1alpha1.LifecycleOffboarded, reason: v1alpha1.ReasonOffboardingEffective,
				transition: "Active->Offboarded:OffboardingEffective"},
		},
		"removing the offboarding cancels it": {
			now: joined.Add(90 * day), program: noOnboarding,
			partner: func(p *v1alpha1.Partner) { p.Status.Lifecycle = stored(v1alpha1.LifecycleOffboarding, joined) },
			want: want{phase: v1alpha1.LifecycleActive, reason: v1alpha1.ReasonOffboardingCancelled, entitlements: all,
				transition: "Offboarding->Active:OffboardingCancelled"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := partner()
			if tc.partner != nil {
				tc.partner(p)
			}
			prog := program()
			if tc.program != nil {
				tc.program(prog)
			}
			if name == "offboarding applies without the program" {
				prog = nil
			}
			status := p.Status.DeepCopy()
			status.Entitlements = held()
			status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconciled, Message: "the partner holds tier select"}}
			in := Input{Now: tc.now, Partner: p, Program: prog, Evidence: tc.evidence, Claims: tc.claims}
			res := Apply(in, status)
			check(t, status, res, tc.want)

			// Applying again to what was stored changes nothing.
			again := p.DeepCopy()
			again.Status = *status.DeepCopy()
			status2 := again.Status.DeepCopy()
			status2.Entitlements = held()
			res2 := Apply(Input{Now: tc.now, Partner: again, Program: prog, Evidence: tc.evidence, Claims: tc.claims}, status2)
			if res2.Transition != nil || !equality.Semantic.DeepEqual(status2.Lifecycle, status.Lifecycle) ||
				!equality.Semantic.DeepEqual(status2.Entitlements, status.Entitlements) {
				t.Fatalf("applying again changed the lifecycle:\n got %+v\nwant %+v (transition %+v)", status2.Lifecycle, status.Lifecycle, res2.Transition)
			}
		})
	}
}

func check(t *testing.T, status *v1alpha1.PartnerStatus, res Result, w want) {
	t.Helper()
	lc := status.Lifecycle
	if lc == nil {
		t.Fatal("no lifecycle")
	}
	if lc.Phase != w.phase || lc.Reason != w.reason {
		t.Errorf("phase %s reason %s, want %s %s (%s)", lc.Phase, lc.Reason, w.phase, w.reason, lc.Message)
	}
	var names []v1alpha1.EntitlementName
	for _, e := range status.Entitlements {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, w.entitlements) {
		t.Errorf("entitlements %v, want %v", names, w.entitlements)
	}
	if !slices.Equal(lc.Withheld, w.withheld) {
		t.Errorf("withheld %v, want %v", lc.Withheld, w.withheld)
	}
	got := ""
	if res.Transition != nil {
		got = string(res.Transition.From) + "->" + string(res.Transition.To) + ":" + res.Transition.Reason
		if last := lc.Transitions[len(lc.Transitions)-1]; !equality.Semantic.DeepEqual(last, *res.Transition) {
			t.Errorf("the transition is not the newest stored: %+v", lc.Transitions)
		}
	}
	if got != w.transition {
		t.Errorf("transition %q, want %q", got, w.transition)
	}
	steps := map[string]v1alpha1.OnboardingStepState{}
	for _, s := range lc.Onboarding {
		steps[s.Name] = s.State
		if (s.State == v1alpha1.OnboardingStepMet) != (s.MetAt != nil) {
			t.Errorf("step %s is %s with metAt %v", s.Name, s.State, s.MetAt)
		}
	}
	if len(steps) == 0 {
		steps = nil
	}
	if !equality.Semantic.DeepEqual(steps, w.steps) {
		t.Errorf("steps %v, want %v", steps, w.steps)
	}
	prob := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionProbation)
	if prob == nil || (prob.Status == metav1.ConditionTrue) != w.probation {
		t.Errorf("Probation condition %+v, want on probation = %v", prob, w.probation)
	}
	if w.probation != (len(lc.ProbationReasons) > 0) {
		t.Errorf("probation reasons %v, want on probation = %v", lc.ProbationReasons, w.probation)
	}
	ready := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady)
	if ready.Status != metav1.ConditionTrue {
		t.Errorf("Ready %+v, want True", ready)
	}
	if w.probation && ready.Reason != v1alpha1.ReasonOnProbation {
		t.Errorf("Ready reason %s while on probation, want %s", ready.Reason, v1alpha1.ReasonOnProbation)
	}
	if (res.NextDeadline == nil) != (w.next == nil) || (w.next != nil && !res.NextDeadline.Equal(*w.next)) {
		t.Errorf("next deadline %v, want %v", res.NextDeadline, w.next)
	}
}

func TestTransitionsKeepTheNewest(t *testing.T) {
	p := partner()
	p.Status.Lifecycle = stored(v1alpha1.LifecycleActive, joined)
	for i := range v1alpha1.MaxLifecycleTransitions {
		p.Status.Lifecycle.Transitions = append(p.Status.Lifecycle.Transitions,
			v1alpha1.LifecycleTransition{Time: metav1.NewTime(joined.Add(time.Duration(i) * time.Hour)), To: v1alpha1.LifecycleActive, Reason: "Old"})
	}
	prog := program()
	prog.Spec.Onboarding = nil
	status := p.Status.DeepCopy()
	res := Apply(Input{Now: joined.Add(day), Partner: p, Program: prog, Evidence: map[string]v1alpha1.Decimal{"escalations": "4"}}, status)
	ts := status.Lifecycle.Transitions
	if res.Transition == nil || len(ts) != v1alpha1.MaxLifecycleTransitions || ts[len(ts)-1].Reason != v1alpha1.ReasonRiskThresholdExceeded ||
		!ts[0].Time.Equal(at(joined.Add(time.Hour))) {
		t.Fatalf("transitions %+v", ts)
	}
}

func TestAMissingProgramKeepsTheStoredLifecycle(t *testing.T) {
	p := partner()
	p.Status.Lifecycle = stored(v1alpha1.LifecycleProbation, joined)
	p.Status.Lifecycle.Withheld = []v1alpha1.EntitlementName{v1alpha1.EntitlementFunds}
	status := p.Status.DeepCopy()
	status.Entitlements = held()
	res := Apply(Input{Now: joined.Add(day), Partner: p}, status)
	if res.Transition != nil || status.Lifecycle.Phase != v1alpha1.LifecycleProbation {
		t.Fatalf("lifecycle %+v, transition %+v", status.Lifecycle, res.Transition)
	}
	if slices.ContainsFunc(status.Entitlements, func(e v1alpha1.EffectiveEntitlement) bool { return e.Name == v1alpha1.EntitlementFunds }) {
		t.Fatalf("the withheld Funds came back without the program: %+v", status.Entitlements)
	}
}
