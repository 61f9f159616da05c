// Package plan decides joint business plans: which content an approval covers
// (Digest), whether a partner has an approved, current plan (Current), how each
// goal stands against current evidence and when a quarterly business review
// (QBR) is due or overdue (Evaluate), and what admission refuses (Validate). It
// is pure: it reads no cluster state and changes none of its input.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/seal"
)

// Digest identifies what an approval of the plan approves: its goals,
// investments and owners, for its partner and period (which cannot change, but
// a plan written again under the same name may have others), and who wrote
// them (spec.author: the same content written by someone else is another
// request, with that author among its parties). Recording a review does not
// change it; any other edit does, and needs a new approval. A plan without an
// author (written before authors were recorded) digests as it always did.
func Digest(spec v1alpha1.JointBusinessPlanSpec) string {
	author, partner := "", ""
	var period *v1alpha1.PlanPeriod
	if spec.Author != nil {
		// An authored plan's approval is also for its partner and period: a
		// plan deleted and written again under its name for another period
		// (or partner) is another plan, and asks again.
		author, partner, period = spec.Author.Username, spec.Partner, &spec.Period
	}
	b, _ := json.Marshal(struct {
		Goals       []v1alpha1.PlanGoal          `json:"goals"`
		Investments []v1alpha1.PlannedInvestment `json:"investments"`
		Owners      v1alpha1.PlanOwners          `json:"owners"`
		Author      string                       `json:"author,omitempty"`
		Partner     string                       `json:"partner,omitempty"`
		Period      *v1alpha1.PlanPeriod         `json:"period,omitempty"`
	}{spec.Goals, spec.Investments, spec.Owners, author, partner, period})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// StampAuthor sets p's spec.author, as the admission webhook does: on create
// (old nil), and on an update that changes the goals, investments or owners, to
// the writer; on any other update to old's author, whatever p says (the field
// is the server's).
func StampAuthor(old, p *v1alpha1.JointBusinessPlan, writer v1alpha1.UserInfo) {
	if old != nil && sameContent(old.Spec, p.Spec) {
		p.Spec.Author = old.Spec.Author.DeepCopy()
		return
	}
	p.Spec.Author = writer.DeepCopy()
}

// sameContent reports whether a and b have the same goals, investments and owners.
func sameContent(a, b v1alpha1.JointBusinessPlanSpec) bool {
	a.Author, b.Author = nil, nil
	return Digest(a) == Digest(b)
}

// Parties are the requester side of p's BusinessPlan request, who may decide
// none of its stages: the plan's author and its owners on both sides, sorted
// and each once.
func Parties(p *v1alpha1.JointBusinessPlan) []string {
	ids := append(append([]string(nil), p.Spec.Owners.Company...), p.Spec.Owners.Partner...)
	if p.Spec.Author != nil {
		ids = append(ids, p.Spec.Author.Username)
	}
	out := ids[:0]
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RequestName is the name of the BusinessPlan request for the plan's current content.
func RequestName(p *v1alpha1.JointBusinessPlan) string {
	return v1alpha1.PlanRequestName(p.Name, Digest(p.Spec))
}

// Bounds returns the first instant of the plan's period and the first after it.
func Bounds(period v1alpha1.PlanPeriod) (start, end time.Time) {
	start = period.Start.UTC()
	if period.Kind == v1alpha1.PlanYear {
		return start, start.AddDate(1, 0, 0)
	}
	return start, start.AddDate(0, 3, 0)
}

// Quarters are the calendar quarters of the period, such as "2026-Q4", with the
// instant each ends.
func Quarters(period v1alpha1.PlanPeriod) ([]string, []time.Time) {
	start, end := Bounds(period)
	var names []string
	var ends []time.Time
	for t := start; t.Before(end); t = t.AddDate(0, 3, 0) {
		name, qEnd := effects.Quarter(t)
		names, ends = append(names, name), append(ends, qEnd)
	}
	return names, ends
}

// approvedBy reports whether q is the approved BusinessPlan request for p's current content.
// Only an approval that counts (effects.Approved) approves the plan.
func approvedBy(p *v1alpha1.JointBusinessPlan, q *v1alpha1.ExceptionRequest, seals *seal.Keys) bool {
	return q != nil && q.Name == RequestName(p) && q.Spec.Type == v1alpha1.RequestBusinessPlan &&
		q.Spec.Grant != nil && q.Spec.Grant.BusinessPlan == p.Name && effects.Approved(q, seals)
}

// Current names the partner's approved, current plan: one of plans whose period
// contains now and whose current content a BusinessPlan request among requests
// (the partner's own, tier.RequestsOf) approved; the first by name when several
// are. It also returns the next instant the answer changes by itself (an
// approved plan's period starting or ending), nil for none.
func Current(plans []v1alpha1.JointBusinessPlan, requests []v1alpha1.ExceptionRequest, now time.Time, seals *seal.Keys) (string, *time.Time) {
	current := ""
	var next *time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next == nil || t.Before(*next)) {
			next = &t
		}
	}
	for i := range plans {
		p := &plans[i]
		if !p.DeletionTimestamp.IsZero() || !slices.ContainsFunc(requests, func(q v1alpha1.ExceptionRequest) bool { return approvedBy(p, &q, seals) }) {
			continue
		}
		start, end := Bounds(p.Spec.Period)
		consider(start)
		consider(end)
		if !now.Before(start) && now.Before(end) && (current == "" || p.Name < current) {
			current = p.Name
		}
	}
	return current, next
}

// Input is what one evaluation of a plan depends on.
type Input struct {
	Now  time.Time
	Plan *v1alpha1.JointBusinessPlan
	// Program is the partner's program; nil when the partner or program is missing.
	Program *v1alpha1.PartnerProgram
	// PartnerFound is false when the plan's partner does not exist.
	PartnerFound bool
	// Request is the BusinessPlan request named RequestName(Plan), nil when absent.
	Request *v1alpha1.ExceptionRequest
	// Values are the partner's current, trusted values by metric (tier.CurrentValues).
	Values map[string]v1alpha1.Decimal
	// Seals verify the request's approval (effects.Approved); nil when sealing is off.
	Seals *seal.Keys
}

// Result is the plan's desired status and what the controller should do.
type Result struct {
	Status v1alpha1.JointBusinessPlanStatus
	// OpenRequest: the BusinessPlan request for the current content should be created.
	OpenRequest bool
	// Next is the earliest instant after Now at which the result changes without
	// any input changing (a goal falling behind its pro-rata path, the period
	// ending, a review falling due or overdue); nil for none.
	Next *time.Time
}

// Evaluate computes the plan's status. Goals are measured linearly: a goal's
// expected value is its target times the share of the period elapsed; a goal is
// Met at its target, OnTrack at or above expected, and Behind below it (no
// current evidence counts as zero). An ended plan keeps the goals it ended with.
// The review of each quarter of an approved plan is due at the quarter's end and
// overdue once the program's reviewSLA has passed after it without a review of
// that quarter in spec.reviews.
func Evaluate(in Input) Result {
	p := in.Plan
	now := in.Now.UTC().Round(0)
	st := p.Status.DeepCopy()
	st.ObservedGeneration = p.Generation
	r := Result{}
	consider := func(t time.Time) {
		if t.After(now) && (r.Next == nil || t.Before(*r.Next)) {
			r.Next = &t
		}
	}
	start, end := Bounds(p.Spec.Period)
	ended := !now.Before(end)
	consider(end)

	st.Request = RequestName(p)
	approved := approvedBy(p, in.Request, in.Seals)
	st.ApprovedAt = nil
	if approved {
		if at := effects.ApprovedAt(in.Request, in.Seals); at != nil {
			t := metav1.NewTime(*at)
			st.ApprovedAt = &t
		}
	}
	approval := v1alpha1.ReasonPlanAwaiting
	approvalMsg := fmt.Sprintf("the plan's goals, investments and owners wait for BusinessPlan request %s", st.Request)
	switch {
	case approved:
		st.Phase, approval = v1alpha1.PlanApproved, v1alpha1.ReasonPlanApproved
		approvalMsg = fmt.Sprintf("BusinessPlan request %s approved the plan's goals, investments and owners", st.Request)
	case in.Request == nil:
		st.Phase = v1alpha1.PlanPendingApproval
		r.OpenRequest = in.PartnerFound && !ended
		if !r.OpenRequest {
			approvalMsg = "no BusinessPlan request reviews the plan's current content"
		}
	case in.Request.Status.Phase == "" || in.Request.Status.Phase == v1alpha1.PhasePending:
		st.Phase = v1alpha1.PlanPendingApproval
	default:
		st.Phase, approval = v1alpha1.PlanDenied, v1alpha1.ReasonPlanDenied
		approvalMsg = fmt.Sprintf("BusinessPlan request %s is %s; change the plan to ask again", st.Request, in.Request.Status.Phase)
	}
	if ended {
		st.Phase = v1alpha1.PlanEnded
	}
	if !ended || len(st.Goals) == 0 {
		st.Goals, st.Attainment = goals(p.Spec.Goals, in.Values, start, end, now, consider)
	}

	st.NextReviewDue, st.ReviewOverdueSince = nil, nil
	if approved {
		st.NextReviewDue, st.ReviewOverdueSince = reviews(p, v1alpha1.PlanReviewSLA(in.Program), now, consider)
	}

	gen, at := p.Generation, metav1.NewTime(now)
	conditions.Set(&st.Conditions, gen, at, v1alpha1.ConditionApproved, conditions.Status(approved), approval, approvalMsg)
	switch {
	case st.ReviewOverdueSince != nil:
		conditions.Set(&st.Conditions, gen, at, v1alpha1.ConditionReviewOverdue, metav1.ConditionTrue, v1alpha1.ReasonReviewMissed, fmt.Sprintf(
			"the business review due %s was not recorded in spec.reviews within the program's review SLA (overdue since %s)",
			stamp(st.NextReviewDue.Time), stamp(st.ReviewOverdueSince.Time)))
	case approved:
		conditions.Set(&st.Conditions, gen, at, v1alpha1.ConditionReviewOverdue, metav1.ConditionFalse, v1alpha1.ReasonReviewsRecorded,
			"every business review due is recorded or within its SLA")
	default:
		conditions.Set(&st.Conditions, gen, at, v1alpha1.ConditionReviewOverdue, metav1.ConditionFalse, v1alpha1.ReasonPlanNotApproved,
			"business reviews are due only for an approved plan")
	}
	switch {
	case !in.PartnerFound:
		conditions.Set(&st.Conditions, gen, at, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPartnerNotFound,
			fmt.Sprintf("partner %s does not exist", p.Spec.Partner))
	case ended:
		conditions.Set(&st.Conditions, gen, at, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonPlanEnded,
			fmt.Sprintf("the plan's period ended at %s", stamp(end)))
	default:
		conditions.Set(&st.Conditions, gen, at, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled,
			fmt.Sprintf("the plan is %s", st.Phase))
	}
	r.Status = *st
	return r
}

// goals measures each goal against values at now and reports, through consider,
// when an OnTrack goal falls behind its linear path.
func goals(gs []v1alpha1.PlanGoal, values map[string]v1alpha1.Decimal, start, end, now time.Time, consider func(time.Time)) ([]v1alpha1.GoalProgress, *v1alpha1.PlanAttainment) {
	length := end.Sub(start)
	elapsed := min(max(now.Sub(start), 0), length)
	share := big.NewRat(int64(elapsed/time.Second), int64(length/time.Second))
	out := make([]v1alpha1.GoalProgress, 0, len(gs))
	a := &v1alpha1.PlanAttainment{}
	for _, g := range gs {
		target, err := decimal.Parse(g.Target)
		if err != nil {
			continue
		}
		expected := new(big.Rat).Mul(target, share)
		gp := v1alpha1.GoalProgress{Metric: g.Metric, Target: g.Target, Current: values[g.Metric], Expected: decimal.Format(expected)}
		current := new(big.Rat)
		if c, err := decimal.Parse(gp.Current); err == nil {
			current = c
		}
		switch {
		case current.Cmp(target) >= 0:
			gp.State, a.Met = v1alpha1.GoalMet, a.Met+1
		case current.Cmp(expected) >= 0:
			gp.State, a.OnTrack = v1alpha1.GoalOnTrack, a.OnTrack+1
			if target.Sign() > 0 && current.Sign() >= 0 {
				// The linear path passes current at start + length*current/target.
				f, _ := new(big.Rat).Quo(current, target).Float64()
				consider(start.Add(time.Duration(f*float64(length)) + time.Second).Truncate(time.Second))
			}
		default:
			gp.State, a.Behind = v1alpha1.GoalBehind, a.Behind+1
		}
		out = append(out, gp)
	}
	return out, a
}

// reviews finds the earliest quarter of the period that has ended without a
// recorded review: its end is when the review was due, and it is overdue from
// sla after it. While every ended quarter has its review, the next review is
// due at the end of the current quarter (none once the last quarter is reviewed).
func reviews(p *v1alpha1.JointBusinessPlan, sla time.Duration, now time.Time, consider func(time.Time)) (due, overdue *metav1.Time) {
	names, ends := Quarters(p.Spec.Period)
	for i, name := range names {
		if slices.ContainsFunc(p.Spec.Reviews, func(r v1alpha1.PlanReview) bool { return r.Quarter == name }) {
			continue
		}
		d := metav1.NewTime(ends[i])
		consider(ends[i].Add(sla))
		if !now.Before(ends[i].Add(sla)) {
			o := metav1.NewTime(ends[i].Add(sla))
			return &d, &o
		}
		return &d, nil
	}
	return nil, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
