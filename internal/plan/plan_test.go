package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var q4 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func plan(kind v1alpha1.PlanPeriodKind, start time.Time, opts ...func(*v1alpha1.JointBusinessPlan)) *v1alpha1.JointBusinessPlan {
	p := &v1alpha1.JointBusinessPlan{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-fy", Namespace: "partners", Generation: 3},
		Spec: v1alpha1.JointBusinessPlanSpec{
			Partner: "acme",
			Period:  v1alpha1.PlanPeriod{Kind: kind, Start: metav1.NewTime(start)},
			Goals: []v1alpha1.PlanGoal{
				{Metric: "sourced-revenue", Target: "1000000"},
				{Metric: "certified-engineers", Target: "10"},
			},
			Owners: v1alpha1.PlanOwners{Company: []string{"pam@example.com"}, Partner: []string{"ceo@acme.example"}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func reviewed(quarters ...string) func(*v1alpha1.JointBusinessPlan) {
	return func(p *v1alpha1.JointBusinessPlan) {
		for _, q := range quarters {
			p.Spec.Reviews = append(p.Spec.Reviews, v1alpha1.PlanReview{Quarter: q, HeldAt: metav1.NewTime(q4)})
		}
	}
}

func request(p *v1alpha1.JointBusinessPlan, phase v1alpha1.RequestPhase) *v1alpha1.ExceptionRequest {
	q := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Name: RequestName(p), Namespace: p.Namespace},
		Spec:       v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestBusinessPlan, Partner: "acme", Grant: &v1alpha1.Grant{BusinessPlan: p.Name}},
		Status:     v1alpha1.ExceptionRequestStatus{Phase: phase},
	}
	if phase == v1alpha1.PhaseApproved {
		q.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(q4)}}
	}
	return q
}

func TestEvaluate(t *testing.T) {
	type want struct {
		phase       v1alpha1.PlanPhase
		open        bool
		states      string // goal states in spec order, space separated
		expected    string // expected values, space separated
		due         *time.Time
		overdue     *time.Time
		conditions  map[string]string // type -> Status/Reason
		nextWithin  *time.Time        // Next must equal this when set
		approvedSet bool
	}
	at := func(t time.Time) *time.Time { return &t }
	yearPlan := plan(v1alpha1.PlanYear, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for name, tc := range map[string]struct {
		in   Input
		want want
	}{
		"a new plan asks for approval": {
			in: Input{Now: q4.Add(24 * time.Hour), Plan: plan(v1alpha1.PlanQuarter, q4), PartnerFound: true},
			want: want{phase: v1alpha1.PlanPendingApproval, open: true, states: "Behind Behind",
				conditions: map[string]string{v1alpha1.ConditionApproved: "False/AwaitingApproval", v1alpha1.ConditionReviewOverdue: "False/NotApproved"}},
		},
		"a plan whose partner is missing opens no request": {
			in:   Input{Now: q4, Plan: plan(v1alpha1.PlanQuarter, q4)},
			want: want{phase: v1alpha1.PlanPendingApproval, states: "OnTrack OnTrack", conditions: map[string]string{v1alpha1.ConditionReady: "False/PartnerNotFound"}},
		},
		"an approved request approves the plan": {
			in: func() Input {
				p := plan(v1alpha1.PlanQuarter, q4)
				return Input{Now: q4.Add(time.Hour), Plan: p, PartnerFound: true, Request: request(p, v1alpha1.PhaseApproved),
					Values: map[string]v1alpha1.Decimal{"sourced-revenue": "1000000", "certified-engineers": "1"}}
			}(),
			want: want{phase: v1alpha1.PlanApproved, states: "Met OnTrack", approvedSet: true, due: at(q4.AddDate(0, 3, 0)),
				conditions: map[string]string{v1alpha1.ConditionApproved: "True/PlanApproved", v1alpha1.ConditionReviewOverdue: "False/ReviewsRecorded"}},
		},
		"a request for another plan approves nothing": {
			in: func() Input {
				p := plan(v1alpha1.PlanQuarter, q4)
				q := request(p, v1alpha1.PhaseApproved)
				q.Spec.Grant.BusinessPlan = "another-plan"
				return Input{Now: q4, Plan: p, PartnerFound: true, Request: q}
			}(),
			want: want{phase: v1alpha1.PlanDenied, states: "OnTrack OnTrack", conditions: map[string]string{v1alpha1.ConditionApproved: "False/PlanDenied"}},
		},
		"a denied request leaves the plan denied": {
			in: func() Input {
				p := plan(v1alpha1.PlanQuarter, q4)
				return Input{Now: q4, Plan: p, PartnerFound: true, Request: request(p, v1alpha1.PhaseDenied)}
			}(),
			want: want{phase: v1alpha1.PlanDenied, states: "OnTrack OnTrack", conditions: map[string]string{v1alpha1.ConditionApproved: "False/PlanDenied"}},
		},
		"on track is the target's pro-rata share of the period elapsed": {
			in: func() Input {
				p := yearPlan.DeepCopy()
				reviewed("2026-Q1", "2026-Q2")(p)
				return Input{Now: time.Date(2026, 7, 2, 12, 0, 0, 0, time.UTC), Plan: p, PartnerFound: true, Request: request(p, v1alpha1.PhaseApproved),
					// 182.5 of 365 days: expected 500000 and 5.
					Values: map[string]v1alpha1.Decimal{"sourced-revenue": "500000", "certified-engineers": "4.9"}}
			}(),
			want: want{phase: v1alpha1.PlanApproved, states: "OnTrack Behind", expected: "500000 5", approvedSet: true,
				due: at(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))},
		},
		"a quarter's review is overdue once the SLA after the quarter passed": {
			in: func() Input {
				p := yearPlan.DeepCopy()
				reviewed("2026-Q1")(p)
				return Input{Now: time.Date(2026, 7, 20, 0, 0, 0, 0, time.UTC), Plan: p, PartnerFound: true, Request: request(p, v1alpha1.PhaseApproved)}
			}(),
			want: want{phase: v1alpha1.PlanApproved, approvedSet: true,
				due:        at(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)),
				overdue:    at(time.Date(2026, 7, 15, 0, 0, 0, 0, time.UTC)),
				conditions: map[string]string{v1alpha1.ConditionReviewOverdue: "True/ReviewMissed"}},
		},
		"a review recorded within the SLA keeps the plan current": {
			in: func() Input {
				p := yearPlan.DeepCopy()
				reviewed("2026-Q1", "2026-Q2")(p)
				return Input{Now: time.Date(2026, 7, 20, 0, 0, 0, 0, time.UTC), Plan: p, PartnerFound: true, Request: request(p, v1alpha1.PhaseApproved)}
			}(),
			want: want{phase: v1alpha1.PlanApproved, approvedSet: true, due: at(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)),
				conditions: map[string]string{v1alpha1.ConditionReviewOverdue: "False/ReviewsRecorded"},
				nextWithin: at(time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))},
		},
		"a review still within its SLA is not overdue": {
			in: func() Input {
				p := yearPlan.DeepCopy()
				reviewed("2026-Q1")(p)
				return Input{Now: time.Date(2026, 7, 10, 0, 0, 0, 0, time.UTC), Plan: p, PartnerFound: true, Request: request(p, v1alpha1.PhaseApproved)}
			}(),
			want: want{phase: v1alpha1.PlanApproved, approvedSet: true, due: at(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)),
				conditions: map[string]string{v1alpha1.ConditionReviewOverdue: "False/ReviewsRecorded"},
				nextWithin: at(time.Date(2026, 7, 15, 0, 0, 0, 0, time.UTC))},
		},
		"a program's reviewSLA replaces the default": {
			in: func() Input {
				p := yearPlan.DeepCopy()
				reviewed("2026-Q1")(p)
				prog := &v1alpha1.PartnerProgram{Spec: v1alpha1.PartnerProgramSpec{BusinessPlans: &v1alpha1.BusinessPlanRules{ReviewSLA: &metav1.Duration{Duration: 72 * time.Hour}}}}
				return Input{Now: time.Date(2026, 7, 10, 0, 0, 0, 0, time.UTC), Plan: p, Program: prog, PartnerFound: true, Request: request(p, v1alpha1.PhaseApproved)}
			}(),
			want: want{phase: v1alpha1.PlanApproved, approvedSet: true, due: at(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)),
				overdue: at(time.Date(2026, 7, 4, 0, 0, 0, 0, time.UTC)), conditions: map[string]string{v1alpha1.ConditionReviewOverdue: "True/ReviewMissed"}},
		},
		"an ended plan is Ended and keeps the goals it ended with": {
			in: func() Input {
				p := plan(v1alpha1.PlanQuarter, q4)
				p.Status.Goals = []v1alpha1.GoalProgress{{Metric: "sourced-revenue", Target: "1000000", Expected: "1000000", State: v1alpha1.GoalMet}}
				return Input{Now: q4.AddDate(0, 4, 0), Plan: p, PartnerFound: true, Request: request(p, v1alpha1.PhaseApproved)}
			}(),
			want: want{phase: v1alpha1.PlanEnded, states: "Met", approvedSet: true, due: at(q4.AddDate(0, 3, 0)), overdue: at(q4.AddDate(0, 3, 14)),
				conditions: map[string]string{v1alpha1.ConditionReady: "True/PlanEnded"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(tc.in)
			s := r.Status
			if s.Phase != tc.want.phase || r.OpenRequest != tc.want.open {
				t.Errorf("phase/open = %s/%v, want %s/%v", s.Phase, r.OpenRequest, tc.want.phase, tc.want.open)
			}
			var states, expected []string
			for _, g := range s.Goals {
				states, expected = append(states, string(g.State)), append(expected, string(g.Expected))
			}
			if tc.want.states != "" && strings.Join(states, " ") != tc.want.states {
				t.Errorf("goal states = %q, want %q", strings.Join(states, " "), tc.want.states)
			}
			if tc.want.expected != "" && strings.Join(expected, " ") != tc.want.expected {
				t.Errorf("expected = %q, want %q", strings.Join(expected, " "), tc.want.expected)
			}
			if !sameTime(s.NextReviewDue, tc.want.due) || !sameTime(s.ReviewOverdueSince, tc.want.overdue) {
				t.Errorf("nextReviewDue/overdueSince = %v/%v, want %v/%v", s.NextReviewDue, s.ReviewOverdueSince, tc.want.due, tc.want.overdue)
			}
			if (s.ApprovedAt != nil) != tc.want.approvedSet {
				t.Errorf("approvedAt = %v, want set %v", s.ApprovedAt, tc.want.approvedSet)
			}
			for typ, w := range tc.want.conditions {
				var got string
				for _, c := range s.Conditions {
					if c.Type == typ {
						got = string(c.Status) + "/" + c.Reason
					}
				}
				if got != w {
					t.Errorf("condition %s = %q, want %q", typ, got, w)
				}
			}
			if tc.want.nextWithin != nil && (r.Next == nil || !r.Next.Equal(*tc.want.nextWithin)) {
				t.Errorf("next = %v, want %v", r.Next, tc.want.nextWithin)
			}
		})
	}
}

func sameTime(a *metav1.Time, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Time.Equal(*b)
}

func TestCurrent(t *testing.T) {
	year := plan(v1alpha1.PlanYear, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	next := plan(v1alpha1.PlanYear, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), func(p *v1alpha1.JointBusinessPlan) { p.Name = "acme-fy27" })
	edited := year.DeepCopy()
	edited.Spec.Goals[0].Target = "2000000"
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		plans    []v1alpha1.JointBusinessPlan
		requests []v1alpha1.ExceptionRequest
		want     string
		next     *time.Time
	}{
		"no plan":                       {},
		"a plan waiting for approval":   {plans: []v1alpha1.JointBusinessPlan{*year}, requests: []v1alpha1.ExceptionRequest{*request(year, v1alpha1.PhasePending)}},
		"a denied plan":                 {plans: []v1alpha1.JointBusinessPlan{*year}, requests: []v1alpha1.ExceptionRequest{*request(year, v1alpha1.PhaseDenied)}},
		"an approved plan is current":   {plans: []v1alpha1.JointBusinessPlan{*year}, requests: []v1alpha1.ExceptionRequest{*request(year, v1alpha1.PhaseApproved)}, want: "acme-fy", next: ptr(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))},
		"an approved plan edited since": {plans: []v1alpha1.JointBusinessPlan{*edited}, requests: []v1alpha1.ExceptionRequest{*request(year, v1alpha1.PhaseApproved)}},
		"an approved plan of a later period is not current yet": {
			plans: []v1alpha1.JointBusinessPlan{*next}, requests: []v1alpha1.ExceptionRequest{*request(next, v1alpha1.PhaseApproved)},
			next: ptr(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)),
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, n := Current(tc.plans, tc.requests, now, nil)
			if got != tc.want || !sameTimePtr(n, tc.next) {
				t.Errorf("Current = %q, next %v; want %q, next %v", got, n, tc.want, tc.next)
			}
		})
	}
}

func ptr(t time.Time) *time.Time { return &t }

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func TestValidate(t *testing.T) {
	program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "global"}, Spec: v1alpha1.PartnerProgramSpec{Metrics: []v1alpha1.MetricDefinition{
		{Name: "sourced-revenue", Class: v1alpha1.MetricClassOutcome},
		{Name: "certified-engineers", Class: v1alpha1.MetricClassEnablement},
		{Name: "escalations", Class: v1alpha1.MetricClassRisk},
	}}}
	partner := &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Status: v1alpha1.PartnerStatus{Entitlements: []v1alpha1.EffectiveEntitlement{
		{Name: v1alpha1.EntitlementFunds, Cap: &v1alpha1.Money{Amount: "50000", Currency: "USD"}},
	}}}
	invest := func(q, currency string) func(*v1alpha1.JointBusinessPlan) {
		return func(p *v1alpha1.JointBusinessPlan) {
			p.Spec.Investments = append(p.Spec.Investments, v1alpha1.PlannedInvestment{Quarter: q, Amount: v1alpha1.Money{Amount: "10000", Currency: currency}})
		}
	}
	goal := func(m string) func(*v1alpha1.JointBusinessPlan) {
		return func(p *v1alpha1.JointBusinessPlan) {
			p.Spec.Goals = append(p.Spec.Goals, v1alpha1.PlanGoal{Metric: m, Target: "1"})
		}
	}
	for name, tc := range map[string]struct {
		plan    *v1alpha1.JointBusinessPlan
		partner *v1alpha1.Partner
		want    []string // fragments of the errors, one per error
	}{
		"a valid plan":                           {plan: plan(v1alpha1.PlanQuarter, q4, invest("2026-Q4", "USD")), partner: partner},
		"the partner must exist":                 {plan: plan(v1alpha1.PlanQuarter, q4), want: []string{"spec.partner: Not found"}},
		"a goal's metric must be in the catalog": {plan: plan(v1alpha1.PlanQuarter, q4, goal("nps")), partner: partner, want: []string{`spec.goals[2].metric: Invalid value: "nps": metric "nps" is not in the catalog of program global`}},
		"a goal cannot be a Risk metric":         {plan: plan(v1alpha1.PlanQuarter, q4, goal("escalations")), partner: partner, want: []string{"is a Risk metric"}},
		"investments are in the cap's currency":  {plan: plan(v1alpha1.PlanQuarter, q4, invest("2026-Q4", "EUR")), partner: partner, want: []string{"spec.investments[0].amount.currency", "funds cap is in USD"}},
		"investments fall in the period":         {plan: plan(v1alpha1.PlanQuarter, q4, invest("2027-Q1", "USD")), partner: partner, want: []string{"spec.investments[0].quarter", "(2026-Q4)"}},
		"reviews fall in the period":             {plan: plan(v1alpha1.PlanQuarter, q4, reviewed("2026-Q3")), partner: partner, want: []string{"spec.reviews[0].quarter"}},
		"without a cap any one currency is accepted": {
			plan: plan(v1alpha1.PlanQuarter, q4, invest("2026-Q4", "EUR")), partner: &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Name: "acme"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			errs := Validate(tc.plan, tc.partner, program)
			got := errs.ToAggregate()
			if len(tc.want) == 0 {
				if got != nil {
					t.Fatalf("errors = %v, want none", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, f := range tc.want {
				if !strings.Contains(got.Error(), f) {
					t.Errorf("errors = %v, want one containing %q", got, f)
				}
			}
		})
	}
}

func TestEditingAnApprovedPlanAsksForANewApproval(t *testing.T) {
	p := plan(v1alpha1.PlanQuarter, q4)
	before := RequestName(p)
	p.Spec.Reviews = append(p.Spec.Reviews, v1alpha1.PlanReview{Quarter: "2026-Q4", HeldAt: metav1.NewTime(q4)})
	if RequestName(p) != before {
		t.Errorf("recording a review changed the request name: it must need no new approval")
	}
	p.Spec.Goals[0].Target = "2000000"
	if RequestName(p) == before {
		t.Fatalf("editing a goal kept the request name: the old approval would cover new goals")
	}
	r := Evaluate(Input{Now: q4, Plan: p, PartnerFound: true}) // no request under the new name yet
	if r.Status.Phase != v1alpha1.PlanPendingApproval || !r.OpenRequest || r.Status.Request != RequestName(p) {
		t.Errorf("after an edit: phase %s, open %v, request %s; want PendingApproval, a new request %s", r.Status.Phase, r.OpenRequest, r.Status.Request, RequestName(p))
	}
}

func TestTheAuthorIsWhoWroteTheContentBeingApproved(t *testing.T) {
	alice := v1alpha1.UserInfo{Username: "alice@example.com", Groups: []string{"sales"}}
	bob := v1alpha1.UserInfo{Username: "bob@example.com"}
	written := func(by v1alpha1.UserInfo, opts ...func(*v1alpha1.JointBusinessPlan)) *v1alpha1.JointBusinessPlan {
		p := plan(v1alpha1.PlanYear, q4, opts...)
		p.Spec.Author = by.DeepCopy()
		return p
	}
	retarget := func(p *v1alpha1.JointBusinessPlan) { p.Spec.Goals[0].Target = "2000000" }
	addOwner := func(p *v1alpha1.JointBusinessPlan) {
		p.Spec.Owners.Company = append(p.Spec.Owners.Company, "bob@example.com")
	}
	forged := func(p *v1alpha1.JointBusinessPlan) { p.Spec.Author = &v1alpha1.UserInfo{Username: "the-cfo"} }
	tests := map[string]struct {
		old, new *v1alpha1.JointBusinessPlan
		writer   v1alpha1.UserInfo
		want     string
	}{
		"the creator is the author":                              {new: plan(v1alpha1.PlanYear, q4, forged), writer: alice, want: "alice@example.com"},
		"changing a goal makes the writer the author":            {old: written(alice), new: written(alice, retarget), writer: bob, want: "bob@example.com"},
		"changing the owners makes the writer the author":        {old: written(alice), new: written(alice, addOwner), writer: bob, want: "bob@example.com"},
		"recording a review keeps the author":                    {old: written(alice), new: plan(v1alpha1.PlanYear, q4, reviewed("2026-Q4")), writer: bob, want: "alice@example.com"},
		"an update forging the author without a change keeps it": {old: written(alice), new: plan(v1alpha1.PlanYear, q4, forged), writer: bob, want: "alice@example.com"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := tc.new.DeepCopy()
			StampAuthor(tc.old, p, tc.writer)
			if p.Spec.Author == nil || p.Spec.Author.Username != tc.want {
				t.Errorf("author = %+v, want %s", p.Spec.Author, tc.want)
			}
		})
	}
}

func TestNobodyApprovesTheirOwnPlan(t *testing.T) {
	authored := func(by string) func(*v1alpha1.JointBusinessPlan) {
		return func(p *v1alpha1.JointBusinessPlan) { p.Spec.Author = &v1alpha1.UserInfo{Username: by} }
	}
	tests := map[string]struct {
		plan *v1alpha1.JointBusinessPlan
		want []string
	}{
		"the author and the owners on both sides are parties": {
			plan: plan(v1alpha1.PlanYear, q4, authored("writer@example.com")),
			want: []string{"ceo@acme.example", "pam@example.com", "writer@example.com"},
		},
		"an owner who wrote the plan is listed once": {
			plan: plan(v1alpha1.PlanYear, q4, authored("pam@example.com")),
			want: []string{"ceo@acme.example", "pam@example.com"},
		},
		"a plan written before authors were recorded has its owners": {
			plan: plan(v1alpha1.PlanYear, q4),
			want: []string{"ceo@acme.example", "pam@example.com"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Parties(tc.plan); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("Parties = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTheSameContentWrittenByAnotherAuthorIsAnotherRequest(t *testing.T) {
	unauthored := plan(v1alpha1.PlanYear, q4)
	byAlice, byBob := unauthored.DeepCopy(), unauthored.DeepCopy()
	byAlice.Spec.Author = &v1alpha1.UserInfo{Username: "alice@example.com"}
	byBob.Spec.Author = &v1alpha1.UserInfo{Username: "bob@example.com"}
	if RequestName(byAlice) == RequestName(byBob) {
		t.Errorf("plans of the same content by alice and bob share request %s: bob, who wrote it back, would decide alice's request", RequestName(byAlice))
	}
	// A plan stored before authors were recorded keeps the request name it had
	// (the digest of its goals, investments and owners alone): an upgrade
	// re-asks for no approved plan.
	b, _ := json.Marshal(struct {
		Goals       []v1alpha1.PlanGoal          `json:"goals"`
		Investments []v1alpha1.PlannedInvestment `json:"investments"`
		Owners      v1alpha1.PlanOwners          `json:"owners"`
	}{unauthored.Spec.Goals, unauthored.Spec.Investments, unauthored.Spec.Owners})
	sum := sha256.Sum256(b)
	if want := v1alpha1.PlanRequestName(unauthored.Name, hex.EncodeToString(sum[:])); RequestName(unauthored) != want {
		t.Errorf("unauthored plan's request = %s, want %s as before", RequestName(unauthored), want)
	}
}

func TestAnApprovalIsForThePlansPeriod(t *testing.T) {
	// A plan deleted and written again under its name for another period, with
	// the same goals, owners and author (and no investments, which would name
	// the quarters), is another plan: the approval given to the first period's
	// request must not approve it.
	authored := func(p *v1alpha1.JointBusinessPlan) { p.Spec.Author = &v1alpha1.UserInfo{Username: "alice@example.com"} }
	thisYear := plan(v1alpha1.PlanYear, q4, authored)
	nextYear := plan(v1alpha1.PlanYear, q4.AddDate(1, 0, 0), authored)
	if RequestName(thisYear) == RequestName(nextYear) {
		t.Errorf("the plan for %s and the plan for %s share request %s: the first one's approval approves the second", thisYear.Spec.Period.Start.Format("2006"), nextYear.Spec.Period.Start.Format("2006"), RequestName(thisYear))
	}
	q := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Name: RequestName(thisYear), Namespace: "partners"},
		Spec:   v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestBusinessPlan, Partner: "acme", Grant: &v1alpha1.Grant{BusinessPlan: thisYear.Name}},
		Status: v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhaseApproved}}
	if approvedBy(nextYear, q, nil) {
		t.Errorf("request %s, approved for the plan's earlier period, approves the plan written for the next", q.Name)
	}
}
