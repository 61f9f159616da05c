package review

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

const (
	day   = 24 * time.Hour
	owner = "program-owner@example.com"
)

// Paths shared by the scenarios.
var (
	plansPath    = path("plans", []v1alpha1.RequestType{v1alpha1.RequestBusinessPlan}, "", "", stage("plans", 1, 72*time.Hour))
	conflictPath = path("conflicts", []v1alpha1.RequestType{v1alpha1.RequestDealConflict}, "", "", stage("chief", 1, 72*time.Hour))
	standard     = path("standard", funds, "", "",
		stage("manager", 1, 72*time.Hour),
		stage("finance", 2, 48*time.Hour))
	small = path("small-funds", funds, "", "10000",
		stage("manager", 1, 72*time.Hour))
	large = path("large-funds", funds, "10000", "",
		stage("manager", 1, 72*time.Hour),
		stage("finance", 1, 48*time.Hour))
	strict = path("strict", funds, "", "",
		stage("manager", 1, 72*time.Hour, "deny-on-timeout"))
	escalating = path("escalating", funds, "", "",
		stage("pre", 1, day, "escalation"), // before manager: never chosen for manager's timeout
		stage("manager", 1, 72*time.Hour),
		stage("finance", 1, 48*time.Hour),
		stage("vp", 1, day, "escalation"),
		stage("cfo", 1, day, "escalation"))
	overCapOK = path("over-cap", funds, "", "",
		stage("manager", 1, 72*time.Hour),
		stage("cfo", 1, 48*time.Hour, "overcap"))
	tierPath = path("tier", tierEx, "", "",
		stage("manager", 1, 72*time.Hour))
)

func withExpiry(r *v1alpha1.ExceptionRequest, d time.Duration) *v1alpha1.ExceptionRequest {
	r.Spec.Expires = mtime(d)
	return r
}

func withStatus(r *v1alpha1.ExceptionRequest, st v1alpha1.ExceptionRequestStatus) *v1alpha1.ExceptionRequest {
	r.Status = st
	return r
}

func named(r *v1alpha1.ExceptionRequest, path string) *v1alpha1.ExceptionRequest {
	r.Spec.ReviewPath = path
	return r
}

// outcome is what a scenario expects after its last step. Durations are offsets
// from t0; a zero deadline or next means none.
type outcome struct {
	phase    v1alpha1.RequestPhase
	stage    string
	deadline time.Duration
	next     time.Duration
	path     string // status.reviewPath.name, checked when set
	// unresolved expects status.reviewPath to name no path and the program owner.
	unresolved bool
	conds      map[string]string // condition type -> "Status/Reason"
	messages   map[string]string // condition type -> substring of its message
	history    []string          // "Reason/stage" of every history entry
	events     []string          // reasons of every event of every step
	warnings   int               // warning events of the last step
}

func TestEvaluate(t *testing.T) {
	fundsWorld := world{paths: []v1alpha1.ReviewPath{standard}, owner: owner, remaining: usd("100000")}
	tests := map[string]struct {
		req   *v1alpha1.ExceptionRequest
		world world
		steps []step
		want  outcome
	}{
		// Resolution.
		"resolves the one matching path and enters its first stage": {
			req:   request(v1alpha1.RequestFunds, "10000"),
			world: world{paths: []v1alpha1.ReviewPath{small, large, tierPath}, owner: owner, remaining: usd("50000")},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: 72 * time.Hour, path: "small-funds",
				conds: map[string]string{
					"ReviewPathResolved": "True/PathResolved", "Ready": "False/UnderReview", "Approved": "False/UnderReview",
					"Denied": "False/UnderReview", "Escalated": "False/UnderReview", "Expired": "False/UnderReview",
				},
				messages: map[string]string{"ReviewPathResolved": `review path "small-funds" governs Funds requests of 10000 USD`},
				history:  []string{"PathResolved", "StageEntered/manager"},
				events:   []string{"PathResolved", "StageEntered"},
			},
		},
		"an amount just above a bound goes to the next path": {
			req:   request(v1alpha1.RequestFunds, "10000.000000001"),
			world: world{paths: []v1alpha1.ReviewPath{small, large}, owner: owner, remaining: usd("50000")},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: 72 * time.Hour, path: "large-funds",
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},
		"a named path whose appliesTo does not match escalates to the program owner": {
			req:   withExpiry(named(request(v1alpha1.RequestTierException, ""), "standard"), 90*day),
			world: world{paths: []v1alpha1.ReviewPath{standard, tierPath}, owner: owner},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, deadline: 72 * time.Hour, next: 72 * time.Hour, unresolved: true,
				conds:    map[string]string{"ReviewPathResolved": "False/PathNotApplicable", "Escalated": "True/PathNotApplicable"},
				messages: map[string]string{"ReviewPathResolved": `whose appliesTo does not govern TierException requests`},
				history:  []string{"PathNotApplicable/escalation"},
				events:   []string{"PathNotApplicable"},
				warnings: 1,
			},
		},
		"a named path that does not exist escalates to the program owner": {
			req:   withExpiry(named(request(v1alpha1.RequestTierException, ""), "gone"), 90*day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}, owner: owner},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, deadline: 72 * time.Hour, next: 72 * time.Hour, unresolved: true,
				conds: map[string]string{
					"ReviewPathResolved": "False/PathNotFound", "Escalated": "True/PathNotFound", "Ready": "False/UnderReview",
				},
				messages: map[string]string{
					"ReviewPathResolved": `"gone", which does not exist`,
					"Escalated":          "escalated to the escalation owner " + owner,
					"Ready":              "waiting for the escalation owner " + owner,
				},
				history:  []string{"PathNotFound/escalation"},
				events:   []string{"PathNotFound"},
				warnings: 1,
			},
		},
		"no matching path escalates to the program owner": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, deadline: 72 * time.Hour, next: 72 * time.Hour,
				conds:    map[string]string{"ReviewPathResolved": "False/NoMatchingPath", "Escalated": "True/NoMatchingPath"},
				messages: map[string]string{"ReviewPathResolved": "no review path governs Funds requests of 500 USD"},
				history:  []string{"NoMatchingPath/escalation"},
				events:   []string{"NoMatchingPath"},
				warnings: 1,
			},
		},
		"several matching paths escalate as ambiguous, naming them sorted": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{standard, strict, small}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, deadline: 72 * time.Hour, next: 72 * time.Hour,
				conds:    map[string]string{"ReviewPathResolved": "False/AmbiguousPath", "Escalated": "True/AmbiguousPath"},
				messages: map[string]string{"ReviewPathResolved": "3 review paths govern Funds requests of 500 USD: small-funds, standard, strict"},
				history:  []string{"AmbiguousPath/escalation"},
				events:   []string{"AmbiguousPath"},
				warnings: 1,
			},
		},
		"an unknown program owner is named as unknown": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{remaining: usd("1000")},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, deadline: 72 * time.Hour, next: 72 * time.Hour,
				messages: map[string]string{"Ready": "the escalation owner (unknown: the partner's program names no owner)"},
				history:  []string{"NoMatchingPath/escalation"},
				events:   []string{"NoMatchingPath"},
				warnings: 1,
			},
		},
		"the program owner approves a request no path governs": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve(EscalationStage, owner)}}},
			want: outcome{
				phase: v1alpha1.PhaseApproved,
				conds: map[string]string{
					"ReviewPathResolved": "False/NoMatchingPath", "Approved": "True/QuorumReached",
					"Escalated": "False/QuorumReached", "Ready": "True/QuorumReached",
				},
				messages: map[string]string{"Approved": "approved on escalation by " + owner},
				history:  []string{"NoMatchingPath/escalation", "StageApproved/escalation", "Approved"},
				events:   []string{"NoMatchingPath", "StageApproved", "Approved"},
			},
		},
		"later path edits do not change a request under review": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{
				{at: 0},
				{at: time.Hour, paths: []v1alpha1.ReviewPath{path("standard", funds, "", "", stage("manager", 3, time.Hour))},
					decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}},
				{at: 5 * time.Hour},
			},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "finance", deadline: time.Hour + 48*time.Hour, next: 49 * time.Hour, path: "standard",
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "StageEntered/finance"},
				events:  []string{"PathResolved", "StageEntered", "StageApproved", "StageEntered"},
			},
		},

		// Stages and quorum.
		"one approval passes a single-stage path": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{small}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}},
			want: outcome{
				phase: v1alpha1.PhaseApproved, path: "small-funds",
				conds: map[string]string{
					"Approved": "True/QuorumReached", "Denied": "False/QuorumReached", "Expired": "False/QuorumReached",
					"Escalated": "False/QuorumReached", "Ready": "True/QuorumReached", "ReviewPathResolved": "True/PathResolved",
				},
				messages: map[string]string{"Approved": `every stage of review path "small-funds" reached quorum: manager`, "Expired": "does not expire"},
				history:  []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "Approved"},
				events:   []string{"PathResolved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"stages run in order and quorum counts distinct reviewers": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{
				{at: 0},
				{at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}},
				{at: 2 * time.Hour, decisions: []v1alpha1.ReviewDecision{approve("finance", "bob"), approve("finance", "bob")}},
			},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "finance", deadline: 49 * time.Hour, next: 49 * time.Hour,
				messages: map[string]string{"Ready": `waiting for stage "finance" of review path "standard": 1 of 2 approvals, deadline 2026-03-04T10:00:00Z`},
				history:  []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "StageEntered/finance"},
				events:   []string{"PathResolved", "StageEntered", "StageApproved", "StageEntered"},
			},
		},
		"the last stage's quorum approves the request": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{
				{at: 0},
				{at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}},
				{at: 2 * time.Hour, decisions: []v1alpha1.ReviewDecision{approve("finance", "bob")}},
				{at: 3 * time.Hour, decisions: []v1alpha1.ReviewDecision{approve("finance", "carol")}},
			},
			want: outcome{
				phase: v1alpha1.PhaseApproved,
				conds: map[string]string{"Approved": "True/QuorumReached", "Ready": "True/QuorumReached"},
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "StageEntered/finance",
					"StageApproved/finance", "Approved"},
				events: []string{"PathResolved", "StageEntered", "StageApproved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"decisions already present pass several stages in one evaluation": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{{at: 0, decisions: []v1alpha1.ReviewDecision{
				approve("manager", "alice"), approve("finance", "bob"), approve("finance", "carol")}}},
			want: outcome{
				phase: v1alpha1.PhaseApproved,
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "StageEntered/finance",
					"StageApproved/finance", "Approved"},
				events: []string{"PathResolved", "StageEntered", "StageApproved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"a quorum of zero counts as one": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{path("zero", funds, "", "", stage("manager", 0, time.Hour))}, remaining: usd("500")},
			steps: []step{{at: 0}, {at: time.Minute, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}},
			want: outcome{
				phase: v1alpha1.PhaseApproved, path: "zero",
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "Approved"},
				events:  []string{"PathResolved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"the stage deadline is kept while the stage does not change": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{{at: 0}, {at: 10 * time.Hour}, {at: 71 * time.Hour}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: 72 * time.Hour,
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},
		"the requester's own approval does not count": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", requester)}}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: 72 * time.Hour,
				messages: map[string]string{"Ready": "0 of 1 approvals"},
				history:  []string{"PathResolved", "StageEntered/manager"},
				events:   []string{"PathResolved", "StageEntered"},
			},
		},
		"escalation stages are skipped in the normal flow": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{escalating}, owner: owner, remaining: usd("1000")},
			steps: []step{
				{at: 0},
				{at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}},
				{at: 2 * time.Hour, decisions: []v1alpha1.ReviewDecision{approve("finance", "bob")}},
			},
			want: outcome{
				phase: v1alpha1.PhaseApproved, path: "escalating",
				conds: map[string]string{"Escalated": "False/QuorumReached"},
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "StageEntered/finance",
					"StageApproved/finance", "Approved"},
				events: []string{"PathResolved", "StageEntered", "StageApproved", "StageEntered", "StageApproved", "Approved"},
			},
		},

		// Denial.
		"a deny at the current stage denies the request": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{deny("manager", "alice", "no pipeline evidence")}}},
			want: outcome{
				phase: v1alpha1.PhaseDenied,
				conds: map[string]string{
					"Denied": "True/DeniedByReviewer", "Approved": "False/DeniedByReviewer", "Expired": "False/DeniedByReviewer",
					"Escalated": "False/DeniedByReviewer", "Ready": "True/DeniedByReviewer",
				},
				messages: map[string]string{
					"Denied": `denied by alice at stage "manager": no pipeline evidence`,
					"Ready":  `denied by alice at stage "manager": no pipeline evidence`,
				},
				history: []string{"PathResolved", "StageEntered/manager", "Denied/manager"},
				events:  []string{"PathResolved", "StageEntered", "Denied"},
			},
		},
		"a deny wins over a quorum reached in the same evaluation": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{
				approve("manager", "alice"), deny("manager", "bob", "duplicate of req-0")}}},
			want: outcome{
				phase:   v1alpha1.PhaseDenied,
				conds:   map[string]string{"Denied": "True/DeniedByReviewer"},
				history: []string{"PathResolved", "StageEntered/manager", "Denied/manager"},
				events:  []string{"PathResolved", "StageEntered", "Denied"},
			},
		},
		"a deny for a stage that is not current is ignored": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: fundsWorld,
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{deny("finance", "bob", "too early")}}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: 72 * time.Hour,
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},
		"the escalation owner denies": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{small}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 72 * time.Hour}, {at: 73 * time.Hour, decisions: []v1alpha1.ReviewDecision{
				deny(EscalationStage, "vp-partners@example.com", "not this quarter")}}},
			want: outcome{
				phase:    v1alpha1.PhaseDenied,
				conds:    map[string]string{"Denied": "True/DeniedByReviewer", "Escalated": "False/DeniedByReviewer"},
				messages: map[string]string{"Denied": "not this quarter"},
				history:  []string{"PathResolved", "StageEntered/manager", "Escalated/escalation", "Denied/escalation"},
				events:   []string{"PathResolved", "StageEntered", "Escalated", "Denied"},
			},
		},

		// SLA.
		"nothing times out before the deadline": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{strict}, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 72*time.Hour - time.Second}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: 72 * time.Hour, path: "strict",
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},
		"a stage that denies on timeout denies at its deadline": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{strict}, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 72 * time.Hour}},
			want: outcome{
				phase: v1alpha1.PhaseDenied, path: "strict",
				conds:    map[string]string{"Denied": "True/TimeoutDenied", "Ready": "True/TimeoutDenied"},
				messages: map[string]string{"Denied": `stage "manager" passed its deadline 2026-03-05T09:00:00Z with 0 of 1 approvals`},
				history:  []string{"PathResolved", "StageEntered/manager", "Denied/manager"},
				events:   []string{"PathResolved", "StageEntered", "Denied"},
				warnings: 1,
			},
		},
		"a timeout escalates to the next escalation stage with its own SLA": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{escalating}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 80 * time.Hour}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "vp", deadline: 80*time.Hour + day, next: 80*time.Hour + day, path: "escalating",
				conds:    map[string]string{"Escalated": "True/SLABreached", "Ready": "False/UnderReview", "Approved": "False/UnderReview"},
				messages: map[string]string{"Escalated": `escalated to escalation stage "vp"`, "Ready": `waiting for escalation stage "vp"`},
				history:  []string{"PathResolved", "StageEntered/manager", "Escalated/vp"},
				events:   []string{"PathResolved", "StageEntered", "Escalated"},
				warnings: 1,
			},
		},
		"a quorum on an escalation stage approves the whole request": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{escalating}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 80 * time.Hour}, {at: 81 * time.Hour, decisions: []v1alpha1.ReviewDecision{approve("vp", "dave")}}},
			want: outcome{
				phase: v1alpha1.PhaseApproved, path: "escalating",
				conds:    map[string]string{"Approved": "True/QuorumReached", "Escalated": "False/QuorumReached"},
				messages: map[string]string{"Approved": `escalation stage "vp" reached quorum (dave)`},
				history:  []string{"PathResolved", "StageEntered/manager", "Escalated/vp", "StageApproved/vp", "Approved"},
				events:   []string{"PathResolved", "StageEntered", "Escalated", "StageApproved", "Approved"},
			},
		},
		"a deny on an escalation stage denies the request": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{escalating}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 80 * time.Hour}, {at: 81 * time.Hour, decisions: []v1alpha1.ReviewDecision{deny("vp", "dave", "no")}}},
			want: outcome{
				phase:   v1alpha1.PhaseDenied,
				conds:   map[string]string{"Denied": "True/DeniedByReviewer"},
				history: []string{"PathResolved", "StageEntered/manager", "Escalated/vp", "Denied/vp"},
				events:  []string{"PathResolved", "StageEntered", "Escalated", "Denied"},
			},
		},
		"escalation stages that time out lead to the next one, then the owner": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{escalating}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 72 * time.Hour}, {at: 96 * time.Hour}, {at: 120 * time.Hour}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, path: "escalating", deadline: 192 * time.Hour, next: 192 * time.Hour,
				conds:    map[string]string{"Escalated": "True/SLABreached"},
				messages: map[string]string{"Ready": "waiting for the escalation owner vp-partners@example.com"},
				history: []string{"PathResolved", "StageEntered/manager", "Escalated/vp", "Escalated/cfo",
					"Escalated/escalation"},
				events:   []string{"PathResolved", "StageEntered", "Escalated", "Escalated", "Escalated"},
				warnings: 1,
			},
		},
		"every wait ends: an escalation owner who does not decide within escalationSLA denies with EscalationExpired": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), 90*day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}, owner: owner},
			steps: []step{{at: 0}, {at: 100 * time.Hour}, {at: 172 * time.Hour}},
			want: outcome{
				phase: v1alpha1.PhaseDenied, path: "tier",
				conds:    map[string]string{"Denied": "True/EscalationExpired"},
				messages: map[string]string{"Denied": "did not decide by the escalation deadline 2026-"},
				history:  []string{"PathResolved", "StageEntered/manager", "Escalated/escalation", "Denied/escalation"},
				events:   []string{"PathResolved", "StageEntered", "Escalated", "Denied"},
				warnings: 1,
			},
		},
		"a request escalated before escalation deadlines existed gets one": {
			req: withStatus(withExpiry(request(v1alpha1.RequestTierException, ""), 90*day), v1alpha1.ExceptionRequestStatus{
				Phase: v1alpha1.PhasePending, CurrentStage: EscalationStage,
				ReviewPath: &v1alpha1.ResolvedReviewPath{Name: "tier", Stages: tierPath.Spec.Stages, EscalationOwner: owner},
			}),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}, owner: owner},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, path: "tier", deadline: 72 * time.Hour, next: 72 * time.Hour,
				history: []string{},
			},
		},
		"a path's escalationSLA sets the escalation owner's deadline": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), 90*day),
			world: world{paths: []v1alpha1.ReviewPath{withEscalationSLA(tierPath, 8*time.Hour)}, owner: owner},
			steps: []step{{at: 0}, {at: 100 * time.Hour}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, deadline: 108 * time.Hour, next: 108 * time.Hour, path: "tier",
				history: []string{"PathResolved", "StageEntered/manager", "Escalated/escalation"},
				events:  []string{"PathResolved", "StageEntered", "Escalated"}, warnings: 1,
			},
		},
		"one reviewer, one stage: a manager's approval does not count at finance": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{standard}, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice"), approve("finance", "alice")}}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "finance", path: "standard", deadline: time.Hour + 48*time.Hour, next: time.Hour + 48*time.Hour,
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "StageEntered/finance"},
				events:  []string{"PathResolved", "StageEntered", "StageApproved", "StageEntered"},
			},
		},
		"the partner's owner's approval never counts": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{standard}, remaining: usd("1000"), partnerOwner: "pam@example.com"},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "pam@example.com")}}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", path: "standard", deadline: 72 * time.Hour, next: 72 * time.Hour,
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},
		"nobody approves their own plan: the plan's author and owners decide no stage": {
			req:   withParties(request(v1alpha1.RequestBusinessPlan, ""), "author@example.com", "pam@example.com", "ceo@partner.example"),
			world: world{paths: []v1alpha1.ReviewPath{plansPath}},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{
				approve("plans", "author@example.com"), approve("plans", "pam@example.com"), approve("plans", "ceo@partner.example")}}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "plans", path: "plans", deadline: 72 * time.Hour, next: 72 * time.Hour,
				messages: map[string]string{"Ready": "0 of 1 approvals"},
				history:  []string{"PathResolved", "StageEntered/plans"},
				events:   []string{"PathResolved", "StageEntered"},
			},
		},
		"nobody approves their own plan: an owner written in another case decides no stage": {
			req:   withParties(request(v1alpha1.RequestBusinessPlan, ""), "author@example.com", "PAM@Example.com"),
			world: world{paths: []v1alpha1.ReviewPath{plansPath}},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("plans", "pam@example.com")}}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "plans", path: "plans", deadline: 72 * time.Hour, next: 72 * time.Hour,
				messages: map[string]string{"Ready": "0 of 1 approvals"},
				history:  []string{"PathResolved", "StageEntered/plans"},
				events:   []string{"PathResolved", "StageEntered"},
			},
		},
		"nobody approves their own plan: a partner owner's deny does not count, a reviewer outside the plan approves": {
			req:   withParties(request(v1alpha1.RequestBusinessPlan, ""), "author@example.com", "pam@example.com", "ceo@partner.example"),
			world: world{paths: []v1alpha1.ReviewPath{plansPath}},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{deny("plans", "ceo@partner.example", "not ready"), approve("plans", "carol")}}},
			want: outcome{
				phase:   v1alpha1.PhaseApproved,
				history: []string{"PathResolved", "StageEntered/plans", "StageApproved/plans", "Approved"},
				events:  []string{"PathResolved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"both sides of a deal conflict are parties: the holder's owner cannot deny it": {
			req:   withParties(onBehalfOf(request(v1alpha1.RequestDealConflict, "40000"), "challenger-seller@example.com"), "holder-seller@example.com", "holder-owner@example.com"),
			world: world{paths: []v1alpha1.ReviewPath{conflictPath}, partnerOwner: "challenger-owner@example.com"},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{
				deny("chief", "holder-owner@example.com", "it is ours"), deny("chief", "holder-seller@example.com", "it is ours"),
				approve("chief", "challenger-seller@example.com"), approve("chief", "challenger-owner@example.com")}}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "chief", path: "conflicts", deadline: 72 * time.Hour, next: 72 * time.Hour,
				messages: map[string]string{"Ready": "0 of 1 approvals"},
				history:  []string{"PathResolved", "StageEntered/chief"},
				events:   []string{"PathResolved", "StageEntered"},
			},
		},
		"both sides of a deal conflict are parties: a neutral reviewer decides it": {
			req:   withParties(onBehalfOf(request(v1alpha1.RequestDealConflict, "40000"), "challenger-seller@example.com"), "holder-seller@example.com", "holder-owner@example.com"),
			world: world{paths: []v1alpha1.ReviewPath{conflictPath}, partnerOwner: "challenger-owner@example.com"},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{
				deny("chief", "holder-owner@example.com", "it is ours"), approve("chief", "channel-chief@example.com")}}},
			want: outcome{
				phase:   v1alpha1.PhaseApproved,
				history: []string{"PathResolved", "StageEntered/chief", "StageApproved/chief", "Approved"},
				events:  []string{"PathResolved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"a timeout without an escalation stage goes to the path's escalation owner": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), 90*day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}, owner: owner},
			steps: []step{{at: 0}, {at: 100 * time.Hour}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, deadline: 172 * time.Hour, next: 172 * time.Hour, path: "tier",
				conds:    map[string]string{"Escalated": "True/SLABreached"},
				messages: map[string]string{"Escalated": "escalated to the escalation owner vp-partners@example.com"},
				history:  []string{"PathResolved", "StageEntered/manager", "Escalated/escalation"},
				events:   []string{"PathResolved", "StageEntered", "Escalated"},
				warnings: 1,
			},
		},
		"a late evaluation gives the escalation stage its full SLA": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{escalating}, owner: owner, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 30 * day}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "vp", deadline: 31 * day, next: 31 * day,
				history:  []string{"PathResolved", "StageEntered/manager", "Escalated/vp"},
				events:   []string{"PathResolved", "StageEntered", "Escalated"},
				warnings: 1,
			},
		},
		"an approval that arrives after the deadline but before the controller counts": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{strict}, remaining: usd("1000")},
			steps: []step{{at: 0}, {at: 73 * time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}},
			want: outcome{
				phase:   v1alpha1.PhaseApproved,
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "Approved"},
				events:  []string{"PathResolved", "StageEntered", "StageApproved", "Approved"},
			},
		},

		// Funds cap.
		"a Funds request equal to the remaining cap is reviewed": {
			req:   request(v1alpha1.RequestFunds, "5000.00"),
			world: world{paths: []v1alpha1.ReviewPath{standard}, remaining: usd("5000")},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: 72 * time.Hour,
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},
		"a Funds request above the remaining cap is denied OverCap": {
			req:   request(v1alpha1.RequestFunds, "5000.01"),
			world: world{paths: []v1alpha1.ReviewPath{standard}, owner: owner, remaining: usd("5000")},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhaseDenied, path: "standard",
				conds: map[string]string{"ReviewPathResolved": "True/PathResolved", "Denied": "True/OverCap", "Ready": "True/OverCap",
					"Approved": "False/OverCap", "Escalated": "False/OverCap"},
				messages: map[string]string{"Denied": "the amount 5000.01 USD exceeds the partner's remaining quarterly cap of 5000 USD"},
				history:  []string{"PathResolved", "Denied"},
				events:   []string{"PathResolved", "Denied"},
				warnings: 1,
			},
		},
		"a Funds request from a partner without Funds entitlement is denied NotEntitled": {
			req:   request(v1alpha1.RequestFunds, "1"),
			world: world{paths: []v1alpha1.ReviewPath{standard}},
			steps: []step{{at: 0}},
			want: outcome{
				phase:    v1alpha1.PhaseDenied,
				conds:    map[string]string{"Denied": "True/NotEntitled"},
				messages: map[string]string{"Denied": "holds no Funds entitlement"},
				history:  []string{"PathResolved", "Denied"},
				events:   []string{"PathResolved", "Denied"},
				warnings: 1,
			},
		},
		"allowOverCap does not let an unentitled partner have funds": {
			req:   request(v1alpha1.RequestFunds, "1"),
			world: world{paths: []v1alpha1.ReviewPath{overCapOK}},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhaseDenied, conds: map[string]string{"Denied": "True/NotEntitled"},
				history: []string{"PathResolved", "Denied"}, events: []string{"PathResolved", "Denied"}, warnings: 1,
			},
		},
		"a suspended partner's Funds request is denied NotEntitled, whatever its cap": {
			req:   request(v1alpha1.RequestFunds, "1"),
			world: world{paths: []v1alpha1.ReviewPath{overCapOK}, remaining: usd("5000"), suspended: true},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhaseDenied, conds: map[string]string{"Denied": "True/NotEntitled"},
				messages: map[string]string{"Denied": "is suspended"},
				history:  []string{"PathResolved", "Denied"}, events: []string{"PathResolved", "Denied"}, warnings: 1,
			},
		},
		"a partner suspended during review is denied NotEntitled at approval": {
			req:   request(v1alpha1.RequestFunds, "900000"),
			world: world{paths: []v1alpha1.ReviewPath{overCapOK}, remaining: usd("5000")},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}},
				{at: 2 * time.Hour, suspended: true, decisions: []v1alpha1.ReviewDecision{approve("cfo", "carol")}}},
			want: outcome{
				phase: v1alpha1.PhaseDenied, path: "over-cap",
				conds:    map[string]string{"Denied": "True/NotEntitled", "Approved": "False/NotEntitled"},
				messages: map[string]string{"Denied": "at approval, partner acme is suspended"},
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "StageEntered/cfo",
					"StageApproved/cfo", "Denied/cfo"},
				events:   []string{"PathResolved", "StageEntered", "StageApproved", "StageEntered", "StageApproved", "Denied"},
				warnings: 1,
			},
		},
		"a Funds request in another currency is denied CurrencyMismatch, naming both": {
			req:   request(v1alpha1.RequestFunds, "1"),
			world: world{paths: []v1alpha1.ReviewPath{overCapOK}, remaining: &v1alpha1.Money{Amount: "100000", Currency: "EUR"}},
			steps: []step{{at: 0}},
			want: outcome{
				phase:    v1alpha1.PhaseDenied,
				conds:    map[string]string{"Denied": "True/CurrencyMismatch"},
				messages: map[string]string{"Denied": "the request is in USD but partner acme's funds cap is in EUR"},
				history:  []string{"PathResolved", "Denied"},
				events:   []string{"PathResolved", "Denied"},
				warnings: 1,
			},
		},

		// Withdrawal and used-up approvals.
		"a pending promotion whose partner no longer qualifies is withdrawn, not breached": {
			req:   request(v1alpha1.RequestTierPromotion, ""),
			world: world{paths: []v1alpha1.ReviewPath{path("promotions", []v1alpha1.RequestType{v1alpha1.RequestTierPromotion}, "", "", stage("office", 1, day))}},
			steps: []step{{at: 0}, {at: time.Hour, withdraw: "partner acme no longer qualifies for tier gold"}, {at: 3 * day}},
			want: outcome{
				phase: v1alpha1.PhaseWithdrawn, path: "promotions",
				conds:    map[string]string{"Withdrawn": "True/NoLongerQualifies", "Escalated": "False/NoLongerQualifies", "Ready": "True/NoLongerQualifies"},
				messages: map[string]string{"Withdrawn": "no longer qualifies for tier gold"},
				history:  []string{"PathResolved", "StageEntered/office", "Withdrawn/office"},
				events:   []string{"PathResolved", "StageEntered", "Withdrawn"},
			},
		},
		"a pending request is withdrawn when its partner's offboarding takes effect, woken at that instant": {
			req:   request(v1alpha1.RequestFunds, "100"),
			world: world{paths: []v1alpha1.ReviewPath{small}, remaining: usd("100000"), offboard: ptr(2 * time.Hour)},
			steps: []step{{at: 0}, {at: 2 * time.Hour}},
			want: outcome{
				phase: v1alpha1.PhaseWithdrawn, path: "small-funds",
				conds:    map[string]string{"Withdrawn": "True/PartnerOffboarded", "Ready": "True/PartnerOffboarded"},
				messages: map[string]string{"Withdrawn": "partner acme was offboarded at 2026-03-02T11:00:00Z (contract ended): its open requests are withdrawn"},
				history:  []string{"PathResolved", "StageEntered/manager", "Withdrawn/manager"},
				events:   []string{"PathResolved", "StageEntered", "Withdrawn"},
			},
		},
		"before the offboarding takes effect it is the request's next deadline": {
			req:   request(v1alpha1.RequestFunds, "100"),
			world: world{paths: []v1alpha1.ReviewPath{small}, remaining: usd("100000"), offboard: ptr(2 * time.Hour)},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: 2 * time.Hour, path: "small-funds",
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},
		"an approved request stays approved when the partner is offboarded": {
			req:   request(v1alpha1.RequestFunds, "100"),
			world: world{paths: []v1alpha1.ReviewPath{small}, remaining: usd("100000")},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}, {at: 2 * time.Hour, offboard: ptr(90 * time.Minute)}},
			want: outcome{
				phase: v1alpha1.PhaseApproved, path: "small-funds",
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "Approved"},
				events:  []string{"PathResolved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"an approved promotion that was used up expires with PromotionUsed": {
			req:   request(v1alpha1.RequestTierPromotion, ""),
			world: world{paths: []v1alpha1.ReviewPath{path("promotions", []v1alpha1.RequestType{v1alpha1.RequestTierPromotion}, "", "", stage("office", 1, day))}},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("office", "alice")}},
				{at: 2 * time.Hour, used: "partner acme dropped below tier gold"}},
			want: outcome{
				phase: v1alpha1.PhaseExpired, path: "promotions",
				conds:   map[string]string{"Expired": "True/PromotionUsed"},
				history: []string{"PathResolved", "StageEntered/office", "StageApproved/office", "Approved", "Expired"},
				events:  []string{"PathResolved", "StageEntered", "StageApproved", "Approved", "Expired"},
			},
		},
		"a stage that may approve over the cap keeps an over-cap request in review": {
			req:   request(v1alpha1.RequestFunds, "900000"),
			world: world{paths: []v1alpha1.ReviewPath{overCapOK}, remaining: usd("5000")},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}},
				{at: 2 * time.Hour, decisions: []v1alpha1.ReviewDecision{approve("cfo", "carol")}}},
			want: outcome{
				phase: v1alpha1.PhaseApproved, path: "over-cap",
				history: []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "StageEntered/cfo",
					"StageApproved/cfo", "Approved"},
				events: []string{"PathResolved", "StageEntered", "StageApproved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"an escalation stage that may exceed the cap does not let the normal stages exceed it": {
			req: request(v1alpha1.RequestFunds, "1000000"),
			world: world{paths: []v1alpha1.ReviewPath{path("cfo-escalation", funds, "", "",
				stage("manager", 1, day), stage("cfo", 1, day, "escalation", "overcap"))}, remaining: usd("10")},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}},
			want: outcome{
				phase:    v1alpha1.PhaseDenied,
				conds:    map[string]string{"Denied": "True/OverCap", "Approved": "False/OverCap"},
				messages: map[string]string{"Denied": "at approval, the amount 1000000 USD exceeds the partner's remaining quarterly cap of 10 USD"},
				history:  []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "Denied/manager"},
				events:   []string{"PathResolved", "StageEntered", "StageApproved", "Denied"},
				warnings: 1,
			},
		},
		"an over-cap request no path governs is denied rather than escalated": {
			req:   request(v1alpha1.RequestFunds, "9000"),
			world: world{owner: owner, remaining: usd("5000")},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhaseDenied, unresolved: true,
				conds:    map[string]string{"ReviewPathResolved": "False/NoMatchingPath", "Denied": "True/OverCap", "Escalated": "False/OverCap"},
				messages: map[string]string{"Denied": "the amount 9000 USD exceeds the partner's remaining quarterly cap of 5000 USD, and no review path governs the request"},
				history:  []string{"NoMatchingPath", "Denied"},
				events:   []string{"NoMatchingPath", "Denied"},
				warnings: 2,
			},
		},
		"the cap is checked again when the request would be approved": {
			req:   request(v1alpha1.RequestFunds, "5000"),
			world: world{paths: []v1alpha1.ReviewPath{small}, remaining: usd("10000")},
			steps: []step{{at: 0}, {at: time.Hour, remaining: usd("4000"), decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}},
			want: outcome{
				phase:    v1alpha1.PhaseDenied,
				conds:    map[string]string{"Denied": "True/OverCap", "Approved": "False/OverCap"},
				messages: map[string]string{"Denied": "at approval, the amount 5000 USD exceeds the partner's remaining quarterly cap of 4000 USD, and no stage of review path \"small-funds\" may approve over the cap"},
				history:  []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "Denied/manager"},
				events:   []string{"PathResolved", "StageEntered", "StageApproved", "Denied"},
				warnings: 1,
			},
		},
		"the cap does not apply to other request types": {
			req:   withExpiry(request(v1alpha1.RequestIncentiveException, "900000"), 90*day),
			world: world{paths: []v1alpha1.ReviewPath{path("incentives", anyTypes, "", "", stage("manager", 1, day))}},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: day, next: day, path: "incentives",
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},

		// Expiry.
		"an approved grant carries its expiry as the next deadline": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), 30*day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}},
			want: outcome{
				phase: v1alpha1.PhaseApproved, next: 30 * day, path: "tier",
				conds:    map[string]string{"Approved": "True/QuorumReached", "Expired": "False/QuorumReached"},
				messages: map[string]string{"Expired": "the grant is in force until 2026-04-01T09:00:00Z"},
				history:  []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "Approved"},
				events:   []string{"PathResolved", "StageEntered", "StageApproved", "Approved"},
			},
		},
		"an approved grant expires": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), 30*day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}},
			steps: []step{{at: 0}, {at: time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}, {at: 30 * day}},
			want: outcome{
				phase: v1alpha1.PhaseExpired, path: "tier",
				conds: map[string]string{"Approved": "True/QuorumReached", "Expired": "True/GrantExpired", "Ready": "True/GrantExpired",
					"Denied": "False/QuorumReached"},
				messages: map[string]string{"Expired": "the grant expired at 2026-04-01T09:00:00Z"},
				history:  []string{"PathResolved", "StageEntered/manager", "StageApproved/manager", "Approved", "Expired"},
				events:   []string{"PathResolved", "StageEntered", "StageApproved", "Approved", "Expired"},
			},
		},
		"the expiry is the next deadline when it comes before the stage deadline": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}},
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", deadline: 72 * time.Hour, next: day,
				history: []string{"PathResolved", "StageEntered/manager"},
				events:  []string{"PathResolved", "StageEntered"},
			},
		},
		"a pending request expires before approval and grants nothing": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}},
			steps: []step{{at: 0}, {at: day}},
			want: outcome{
				phase: v1alpha1.PhaseExpired, path: "tier",
				conds: map[string]string{"Expired": "True/GrantExpired", "Approved": "False/GrantExpired", "Denied": "False/GrantExpired",
					"Ready": "True/GrantExpired"},
				messages: map[string]string{"Expired": "before it was approved; nothing was granted"},
				history:  []string{"PathResolved", "StageEntered/manager", "Expired/manager"},
				events:   []string{"PathResolved", "StageEntered", "Expired"},
			},
		},
		"an approval that arrives after the expiry grants nothing": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}},
			steps: []step{{at: 0}, {at: day + time.Hour, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}},
			want: outcome{
				phase:   v1alpha1.PhaseExpired,
				conds:   map[string]string{"Approved": "False/GrantExpired"},
				history: []string{"PathResolved", "StageEntered/manager", "Expired/manager"},
				events:  []string{"PathResolved", "StageEntered", "Expired"},
			},
		},

		// Stored status the machine did not write.
		"a current stage the path does not have restarts at the first stage": {
			req: withStatus(request(v1alpha1.RequestFunds, "500"), v1alpha1.ExceptionRequestStatus{
				Phase: v1alpha1.PhasePending, ReviewPath: resolvedCopy(&standard), CurrentStage: "bogus",
				Decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")},
			}),
			world: fundsWorld,
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "finance", deadline: 48 * time.Hour, next: 48 * time.Hour, path: "standard",
				history: []string{"StageEntered/manager", "StageApproved/manager", "StageEntered/finance"},
				events:  []string{"StageEntered", "StageApproved", "StageEntered"},
			},
		},
		"a resolved path without a normal stage escalates instead of approving": {
			req: withStatus(request(v1alpha1.RequestFunds, "500"), v1alpha1.ExceptionRequestStatus{
				ReviewPath: &v1alpha1.ResolvedReviewPath{Name: "odd", Stages: []v1alpha1.ReviewStage{stage("vp", 1, day, "escalation")},
					EscalationOwner: owner},
			}),
			world: fundsWorld,
			steps: []step{{at: 0}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: EscalationStage, path: "odd", deadline: 72 * time.Hour, next: 72 * time.Hour,
				conds:    map[string]string{"Escalated": "True/NoReviewStage"},
				history:  []string{"Escalated/escalation"},
				events:   []string{"Escalated"},
				warnings: 1,
			},
		},
		"a stage without an SLA has no deadline": {
			req:   request(v1alpha1.RequestFunds, "500"),
			world: world{paths: []v1alpha1.ReviewPath{path("no-sla", funds, "", "", stage("manager", 1, 0))}, remaining: usd("500")},
			steps: []step{{at: 0}, {at: 400 * day}},
			want: outcome{
				phase: v1alpha1.PhasePending, stage: "manager", path: "no-sla",
				messages: map[string]string{"Ready": "0 of 1 approvals, no deadline"},
				history:  []string{"PathResolved", "StageEntered/manager"},
				events:   []string{"PathResolved", "StageEntered"},
			},
		},

		// Final states.
		"a denied request never changes": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}},
			steps: []step{
				{at: 0},
				{at: time.Hour, decisions: []v1alpha1.ReviewDecision{deny("manager", "alice", "no")}},
				{at: 2 * day, decisions: []v1alpha1.ReviewDecision{approve("manager", "bob")}},
			},
			want: outcome{
				phase:   v1alpha1.PhaseDenied,
				conds:   map[string]string{"Denied": "True/DeniedByReviewer", "Expired": "False/DeniedByReviewer"},
				history: []string{"PathResolved", "StageEntered/manager", "Denied/manager"},
				events:  []string{"PathResolved", "StageEntered", "Denied"},
			},
		},
		"an expired request never changes": {
			req:   withExpiry(request(v1alpha1.RequestTierException, ""), day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}},
			steps: []step{{at: 0}, {at: day}, {at: 2 * day, decisions: []v1alpha1.ReviewDecision{approve("manager", "bob")}}},
			want: outcome{
				phase:   v1alpha1.PhaseExpired,
				history: []string{"PathResolved", "StageEntered/manager", "Expired/manager"},
				events:  []string{"PathResolved", "StageEntered", "Expired"},
			},
		},
	}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, events := simulate(t, tc.req, tc.world, tc.steps)
			checkOutcome(t, res, events, tc.want)
			checkInvariants(t, res)

			// Evaluating again with the result stored changes nothing.
			last := at(tc.steps[len(tc.steps)-1].at)
			stored := tc.req.DeepCopy()
			stored.Status = *res.Status.DeepCopy()
			checkSettles(t, Input{Now: last, Request: stored, Paths: tc.world.paths, ProgramOwner: tc.world.owner, FundsRemaining: tc.world.remaining,
				PartnerOwner: tc.world.partnerOwner})
		})
	}
}

func checkOutcome(t *testing.T, res Result, events []string, want outcome) {
	t.Helper()
	st := res.Status
	if st.Phase != want.phase {
		t.Errorf("phase = %s, want %s", st.Phase, want.phase)
	}
	if st.CurrentStage != want.stage {
		t.Errorf("currentStage = %q, want %q", st.CurrentStage, want.stage)
	}
	checkInstant(t, "stageDeadline", timeOf(st.StageDeadline), want.deadline)
	checkInstant(t, "NextDeadline", res.NextDeadline, want.next)
	if want.path != "" && (st.ReviewPath == nil || st.ReviewPath.Name != want.path) {
		t.Errorf("reviewPath = %+v, want name %q", st.ReviewPath, want.path)
	}
	if want.unresolved && (st.ReviewPath == nil || st.ReviewPath.Name != "" || st.ReviewPath.EscalationOwner != owner ||
		len(st.ReviewPath.Stages) != 0) {
		t.Errorf("reviewPath = %+v, want no path and escalation owner %s", st.ReviewPath, owner)
	}
	for typ, w := range want.conds {
		if got := strings.TrimPrefix(condSummary(st.Conditions, typ), typ+"="); got != w {
			t.Errorf("condition %s = %s, want %s", typ, got, w)
		}
	}
	for typ, sub := range want.messages {
		if msg := condMessage(st.Conditions, typ); !strings.Contains(msg, sub) {
			t.Errorf("condition %s message = %q, want it to contain %q", typ, msg, sub)
		}
	}
	if got := historyReasons(st.History); !reflect.DeepEqual(got, want.history) {
		t.Errorf("history = %q, want %q", got, want.history)
	}
	if !reflect.DeepEqual(events, want.events) {
		t.Errorf("events = %q, want %q", events, want.events)
	}
	warnings := 0
	for _, e := range res.Events {
		if e.Warning {
			warnings++
		}
	}
	if warnings != want.warnings {
		t.Errorf("warning events in the last step = %d, want %d (%+v)", warnings, want.warnings, res.Events)
	}
}

// checkInvariants checks what must hold for every result.
func checkInvariants(t *testing.T, res Result) {
	t.Helper()
	st := res.Status
	ready := condSummary(st.Conditions, v1alpha1.ConditionReady)
	switch st.Phase {
	case v1alpha1.PhasePending:
		if ready != "Ready=False/UnderReview" {
			t.Errorf("pending request has %s, want Ready=False/UnderReview", ready)
		}
		if st.CurrentStage == "" {
			t.Error("pending request has no current stage")
		}
	case v1alpha1.PhaseApproved, v1alpha1.PhaseDenied, v1alpha1.PhaseExpired, v1alpha1.PhaseWithdrawn:
		phaseCond := map[v1alpha1.RequestPhase]string{
			v1alpha1.PhaseApproved:  v1alpha1.ConditionApproved,
			v1alpha1.PhaseDenied:    v1alpha1.ConditionDenied,
			v1alpha1.PhaseExpired:   v1alpha1.ConditionExpired,
			v1alpha1.PhaseWithdrawn: v1alpha1.ConditionWithdrawn,
		}[st.Phase]
		var reason string
		for _, c := range st.Conditions {
			if c.Type == phaseCond {
				reason = c.Reason
			}
		}
		if want := "Ready=True/" + reason; ready != want {
			t.Errorf("%s request has %s, want %s", st.Phase, ready, want)
		}
		if st.CurrentStage != "" || st.StageDeadline != nil {
			t.Errorf("%s request keeps stage %q deadline %v", st.Phase, st.CurrentStage, st.StageDeadline)
		}
	default:
		t.Errorf("unexpected phase %q", st.Phase)
	}
	if len(st.History) > MaxHistory {
		t.Errorf("history has %d entries, more than %d", len(st.History), MaxHistory)
	}
	for _, h := range st.History {
		if len(h.Message) > maxHistoryMessage {
			t.Errorf("history message of %d bytes", len(h.Message))
		}
	}
}

// checkSettles evaluates in again and expects no change and no events.
func checkSettles(t *testing.T, in Input) {
	t.Helper()
	again := Evaluate(in)
	if !equality.Semantic.DeepEqual(again.Status, in.Request.Status) {
		t.Errorf("re-evaluation changed the status:\nstored %+v\nagain  %+v", in.Request.Status, again.Status)
	}
	if len(again.Events) != 0 {
		t.Errorf("re-evaluation reported events %+v", again.Events)
	}
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.Time
	return &v
}

func checkInstant(t *testing.T, what string, got *time.Time, want time.Duration) {
	t.Helper()
	switch {
	case want == 0 && got != nil:
		t.Errorf("%s = %s, want none", what, got)
	case want != 0 && (got == nil || !got.Equal(at(want))):
		t.Errorf("%s = %v, want %s", what, got, at(want))
	}
}

// TestSettledRequestsNeverChange re-evaluates final requests much later, with
// different inputs, and expects their own status back without events.
func TestSettledRequestsNeverChange(t *testing.T) {
	settle := func(req *v1alpha1.ExceptionRequest, w world, steps ...step) *v1alpha1.ExceptionRequest {
		res, _ := simulate(t, req, w, steps)
		out := req.DeepCopy()
		out.Status = res.Status
		return out
	}
	tierWorld := world{paths: []v1alpha1.ReviewPath{tierPath}, owner: owner}
	tests := map[string]*v1alpha1.ExceptionRequest{
		"approved without expiry": settle(request(v1alpha1.RequestFunds, "5"), world{paths: []v1alpha1.ReviewPath{small}, remaining: usd("5")},
			step{at: 0, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}),
		"denied by a reviewer": settle(withExpiry(request(v1alpha1.RequestTierException, ""), day), tierWorld,
			step{at: 0, decisions: []v1alpha1.ReviewDecision{deny("manager", "alice", "no")}}),
		"denied over the cap": settle(request(v1alpha1.RequestFunds, "6"), world{paths: []v1alpha1.ReviewPath{small}, remaining: usd("5")},
			step{at: 0}),
		"expired after approval": settle(withExpiry(request(v1alpha1.RequestTierException, ""), day), tierWorld,
			step{at: 0, decisions: []v1alpha1.ReviewDecision{approve("manager", "alice")}}, step{at: day}),
		"expired before approval": settle(withExpiry(request(v1alpha1.RequestTierException, ""), day), tierWorld,
			step{at: 0}, step{at: 3 * day}),
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			if !final(req.Status.Phase) {
				t.Fatalf("setup left phase %s", req.Status.Phase)
			}
			req.Status.Decisions = append(req.Status.Decisions, approve("escalation", "late"), deny("manager", "late", "late"))
			checkSettles(t, Input{Now: at(400 * day), Request: req, Paths: []v1alpha1.ReviewPath{standard, strict}, ProgramOwner: "someone-else",
				FundsRemaining: usd("0")})
		})
	}
}

func TestEvaluateDoesNotModifyInput(t *testing.T) {
	req := withExpiry(request(v1alpha1.RequestFunds, "500"), 30*day)
	req.Status.Decisions = []v1alpha1.ReviewDecision{approve("manager", "alice"), approve("finance", "bob")}
	in := Input{Now: t0, Request: req, Paths: []v1alpha1.ReviewPath{standard, small}, ProgramOwner: owner, FundsRemaining: usd("1000")}
	in.Paths = []v1alpha1.ReviewPath{*standard.DeepCopy()}
	before := in.Request.DeepCopy()
	paths := []v1alpha1.ReviewPath{*in.Paths[0].DeepCopy()}
	res := Evaluate(in)
	if !equality.Semantic.DeepEqual(in.Request, before) {
		t.Errorf("Evaluate modified the request")
	}
	if !equality.Semantic.DeepEqual(in.Paths, paths) {
		t.Errorf("Evaluate modified the paths")
	}
	// The result shares no memory with the input.
	res.Status.ReviewPath.Stages[0].Name = "changed"
	res.Status.Decisions[0].Rationale = "changed"
	if in.Paths[0].Spec.Stages[0].Name == "changed" || in.Request.Status.Decisions[0].Rationale == "changed" {
		t.Errorf("the result aliases the input")
	}
}

func TestEvaluateConditionsCarryGeneration(t *testing.T) {
	req := request(v1alpha1.RequestFunds, "500")
	req.Generation = 7
	req.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonUnderReview,
		Message: "old", ObservedGeneration: 6, LastTransitionTime: metav1.NewTime(t0.Add(-day))}}
	res := Evaluate(Input{Now: t0, Request: req, Paths: []v1alpha1.ReviewPath{standard}, FundsRemaining: usd("1000")})
	if res.Status.ObservedGeneration != 7 {
		t.Errorf("observedGeneration = %d, want 7", res.Status.ObservedGeneration)
	}
	want := []string{"Ready", "ReviewPathResolved", "Approved", "Denied", "Expired", "Escalated", "Reconciling"}
	if len(res.Status.Conditions) != len(want) {
		t.Errorf("conditions = %+v, want %v", res.Status.Conditions, want)
	}
	for _, c := range res.Status.Conditions {
		if c.ObservedGeneration != 7 {
			t.Errorf("condition %s has observedGeneration %d, want 7", c.Type, c.ObservedGeneration)
		}
	}
	// Ready kept its status, so it keeps its transition time.
	for _, c := range res.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady && !c.LastTransitionTime.Time.Equal(t0.Add(-day)) {
			t.Errorf("Ready lastTransitionTime = %s, want the stored one", c.LastTransitionTime)
		}
	}
}

func TestEvaluateKeepsNewestHistory(t *testing.T) {
	req := request(v1alpha1.RequestFunds, "500")
	for i := 0; i < MaxHistory-1; i++ {
		req.Status.History = append(req.Status.History, v1alpha1.RequestEvent{Time: metav1.NewTime(t0), Reason: "Old", Message: string(rune('a' + i%26))})
	}
	res := Evaluate(Input{Now: t0, Request: req, Paths: []v1alpha1.ReviewPath{standard}, FundsRemaining: usd("1000")})
	h := res.Status.History
	if len(h) != MaxHistory {
		t.Fatalf("history has %d entries, want %d", len(h), MaxHistory)
	}
	if h[0].Message != "b" {
		t.Errorf("oldest kept entry = %q, want the second oldest (b)", h[0].Message)
	}
	if got := historyReasons(h[len(h)-2:]); !reflect.DeepEqual(got, []string{"PathResolved", "StageEntered/manager"}) {
		t.Errorf("newest entries = %q", got)
	}
}

func TestEvaluateClipsLongMessages(t *testing.T) {
	req := request(v1alpha1.RequestFunds, "500")
	long := strings.Repeat("é", 1500) // 3000 bytes
	req.Status.Decisions = []v1alpha1.ReviewDecision{deny("manager", "alice", long)}
	res := Evaluate(Input{Now: t0, Request: req, Paths: []v1alpha1.ReviewPath{standard}, FundsRemaining: usd("1000")})
	last := res.Status.History[len(res.Status.History)-1]
	if len(last.Message) > maxHistoryMessage || !strings.HasSuffix(last.Message, "...") {
		t.Errorf("history message has %d bytes, want at most %d ending in ...", len(last.Message), maxHistoryMessage)
	}
	if !strings.Contains(condMessage(res.Status.Conditions, v1alpha1.ConditionDenied), long) {
		t.Error("the Denied condition should keep the whole rationale")
	}
	if ev := res.Events[len(res.Events)-1]; ev.Message != last.Message {
		t.Errorf("event message differs from history message")
	}
}

func TestEvaluateNilRequest(t *testing.T) {
	if res := Evaluate(Input{Now: t0}); res.Status.Phase != "" || res.Events != nil || res.NextDeadline != nil {
		t.Errorf("Evaluate(nil request) = %+v", res)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	paths := []v1alpha1.ReviewPath{small, large, tierPath}
	for i := 0; i < 20; i++ {
		paths = append(paths, path("other-"+string(rune('a'+i)), tierEx, "", "", stage("s", 1, day)))
	}
	fresh := request(v1alpha1.RequestFunds, "25000")
	resolved := fresh.DeepCopy()
	resolved.Status = Evaluate(Input{Now: t0, Request: fresh, Paths: paths, ProgramOwner: owner, FundsRemaining: usd("100000")}).Status
	resolved.Status.Decisions = []v1alpha1.ReviewDecision{approve("manager", "alice"), approve("finance", "bob")}

	bench := map[string]struct {
		req  *v1alpha1.ExceptionRequest
		want v1alpha1.RequestPhase
	}{
		"resolve among 23 paths": {req: fresh, want: v1alpha1.PhasePending},
		"pass two stages":        {req: resolved, want: v1alpha1.PhaseApproved},
	}
	for name, bc := range bench {
		in := Input{Now: t0.Add(time.Hour), Request: bc.req, Paths: paths, ProgramOwner: owner, FundsRemaining: usd("100000")}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := Evaluate(in); r.Status.Phase != bc.want {
					b.Fatalf("phase %s, want %s", r.Status.Phase, bc.want)
				}
			}
		})
	}
}

// Decision integrity II, item 6: a decision written past the webhook never counts.
func TestAnUnsealedDecisionNeverCounts(t *testing.T) {
	keys, err := seal.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	req := request(v1alpha1.RequestFunds, "500")
	req.UID = "uid-q"
	in := Input{Now: at(0), Request: req, Paths: []v1alpha1.ReviewPath{small}, FundsRemaining: usd("1000"), Seals: keys}
	res := Evaluate(in)
	req.Status = res.Status
	forged := approve("manager", "alice")
	req.Status.Decisions = []v1alpha1.ReviewDecision{forged}
	if got := Evaluate(Input{Now: at(time.Hour), Request: req, Paths: in.Paths, FundsRemaining: in.FundsRemaining, Seals: keys}); got.Status.Phase != v1alpha1.PhasePending {
		t.Errorf("an unsealed approval moved the request to %s", got.Status.Phase)
	}
	sealedDecision := forged
	sealedDecision.Seal = keys.Sign(seal.Decision("uid-q", 0, forged)...)
	req.Status.Decisions = []v1alpha1.ReviewDecision{sealedDecision}
	if got := Evaluate(Input{Now: at(time.Hour), Request: req, Paths: in.Paths, FundsRemaining: in.FundsRemaining, Seals: keys}); got.Status.Phase != v1alpha1.PhaseApproved {
		t.Errorf("a sealed approval left the request %s", got.Status.Phase)
	}
}
