package review

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// under builds a stored request in phase at currentStage with decisions.
func under(phase v1alpha1.RequestPhase, current string, decisions ...v1alpha1.ReviewDecision) *v1alpha1.ExceptionRequest {
	r := request(v1alpha1.RequestFunds, "500")
	r.Status = v1alpha1.ExceptionRequestStatus{
		Phase: phase, CurrentStage: current, Decisions: decisions,
		ReviewPath: resolvedCopy(&standard),
	}
	return r
}

func sameReviewerAllowed(r *v1alpha1.ExceptionRequest) *v1alpha1.ExceptionRequest {
	r = r.DeepCopy()
	r.Status.ReviewPath.AllowSameReviewerAcrossStages = true
	return r
}

func onBehalfOf(r *v1alpha1.ExceptionRequest, person string) *v1alpha1.ExceptionRequest {
	r = r.DeepCopy()
	r.Spec.OnBehalfOf = person
	return r
}

// appending returns old with decisions appended (as the reviewer proposes it).
func appending(old *v1alpha1.ExceptionRequest, decisions ...v1alpha1.ReviewDecision) *v1alpha1.ExceptionRequest {
	n := old.DeepCopy()
	n.Status.Decisions = append(n.Status.Decisions, decisions...)
	return n
}

func TestValidateDecisions(t *testing.T) {
	pending := under(v1alpha1.PhasePending, "finance", approve("manager", "alice"))
	// unstamped is a decision as a reviewer writes it, before the webhook stamps it.
	unstamped := func(stage string, verdict v1alpha1.DecisionVerdict) v1alpha1.ReviewDecision {
		return v1alpha1.ReviewDecision{Stage: stage, Decision: verdict, Rationale: "ok"}
	}
	changed := pending.DeepCopy()
	changed.Status.Decisions[0].Decision = v1alpha1.DecisionDeny
	changed.Status.Decisions = append(changed.Status.Decisions, unstamped("finance", v1alpha1.DecisionApprove))
	removed := pending.DeepCopy()
	removed.Status.Decisions = nil
	twoRemoved := under(v1alpha1.PhasePending, "finance", approve("manager", "alice"), approve("finance", "bob"), approve("finance", "carol"))
	twoRemovedNew := twoRemoved.DeepCopy()
	twoRemovedNew.Status.Decisions = twoRemovedNew.Status.Decisions[:1]
	retimed := pending.DeepCopy()
	now := metav1.NewTime(t0)
	retimed.Status.Decisions[0].Time = &now
	otherChanges := appending(pending, unstamped("finance", v1alpha1.DecisionApprove))
	otherChanges.Status.Phase = v1alpha1.PhaseApproved
	otherChanges.Status.CurrentStage = ""
	otherChanges.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}}

	planPending := withParties(request(v1alpha1.RequestBusinessPlan, ""), "author@example.com", "ceo@partner.example", "pam@example.com")
	planPending.Spec.Grant = &v1alpha1.Grant{BusinessPlan: "acme-2027"}
	planPending.Status = v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhasePending, CurrentStage: "plans", ReviewPath: resolvedCopy(&plansPath)}
	conflictPending := withParties(onBehalfOf(request(v1alpha1.RequestDealConflict, "40000"), "challenger-seller@example.com"), "holder-owner@example.com", "holder-seller@example.com")
	conflictPending.Status = v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhasePending, CurrentStage: "chief", ReviewPath: resolvedCopy(&conflictPath)}

	tests := map[string]struct {
		old, new     *v1alpha1.ExceptionRequest
		reviewer     string
		partnerOwner string
		want         []string // "field: message substring"
	}{
		"an approval for the current stage is accepted": {
			old: pending, new: appending(pending, unstamped("finance", v1alpha1.DecisionApprove)), reviewer: "bob",
		},
		"a deny for the current stage is accepted": {
			old: pending, new: appending(pending, unstamped("finance", v1alpha1.DecisionDeny)), reviewer: "bob",
		},
		"a stamped decision is accepted too": {
			old: pending, new: appending(pending, approve("finance", "bob")), reviewer: "bob",
		},
		"the escalation owner decides as stage escalation": {
			old: under(v1alpha1.PhasePending, EscalationStage), reviewer: owner,
			new: appending(under(v1alpha1.PhasePending, EscalationStage), unstamped(EscalationStage, v1alpha1.DecisionApprove)),
		},
		"one reviewer, one stage: a reviewer of an earlier stage cannot decide a later one": {
			old: pending, new: appending(pending, unstamped("finance", v1alpha1.DecisionApprove)), reviewer: "alice",
			want: []string{`status.decisions[1]: one reviewer, one stage: alice already decided stage "manager" of this request`},
		},
		"a path that allows it lets a reviewer decide several stages": {
			old: sameReviewerAllowed(pending), new: appending(sameReviewerAllowed(pending), unstamped("finance", v1alpha1.DecisionApprove)), reviewer: "alice",
		},
		"the partner's relationship owner cannot decide": {
			old: pending, new: appending(pending, unstamped("finance", v1alpha1.DecisionApprove)), reviewer: "pam@example.com", partnerOwner: "pam@example.com",
			want: []string{"status.decisions[1]: the partner's relationship owner cannot decide its requests: pam@example.com owns partner acme"},
		},
		"the person a request was filed for cannot decide it": {
			old: onBehalfOf(pending, "dana@example.com"), new: appending(onBehalfOf(pending, "dana@example.com"), unstamped("finance", v1alpha1.DecisionApprove)),
			reviewer: "dana@example.com",
			want:     []string{"status.decisions[1]: the requester cannot decide their own request (it was filed on behalf of dana@example.com)"},
		},
		"nobody approves their own plan: the plan's owner cannot decide its BusinessPlan request": {
			old: planPending, new: appending(planPending, unstamped("plans", v1alpha1.DecisionApprove)), reviewer: "pam@example.com",
			want: []string{"status.decisions[0]: nobody approves their own plan: pam@example.com is the author or an owner of JointBusinessPlan acme-2027 (spec.parties)"},
		},
		"nobody approves their own plan: the plan's author cannot deny it either": {
			old: planPending, new: appending(planPending, unstamped("plans", v1alpha1.DecisionDeny)), reviewer: "author@example.com",
			want: []string{"status.decisions[0]: nobody approves their own plan: author@example.com is the author or an owner"},
		},
		"a reviewer outside the plan may decide its BusinessPlan request": {
			old: planPending, new: appending(planPending, unstamped("plans", v1alpha1.DecisionApprove)), reviewer: "carol",
		},
		"both sides of a deal conflict are parties: the holder's owner cannot decide it": {
			old: conflictPending, new: appending(conflictPending, unstamped("chief", v1alpha1.DecisionDeny)), reviewer: "holder-owner@example.com",
			want: []string{"status.decisions[0]: both sides of a deal conflict are parties: holder-owner@example.com is the registrant or relationship owner of the registration holding the customer (spec.parties)"},
		},
		// A plan's owners are typed by its author: an owner written in another
		// case (PAM@Example.com) is still the owner who signs in as pam@example.com.
		"nobody approves their own plan: an owner written in another case is still a party": {
			old: withParties(planPending, "PAM@Example.com"), new: appending(withParties(planPending, "PAM@Example.com"), unstamped("plans", v1alpha1.DecisionApprove)), reviewer: "pam@example.com",
			want: []string{"status.decisions[0]: nobody approves their own plan: pam@example.com is the author or an owner"},
		},
		"both sides of a deal conflict are parties: the holder's registrant cannot decide it": {
			old: conflictPending, new: appending(conflictPending, unstamped("chief", v1alpha1.DecisionDeny)), reviewer: "holder-seller@example.com",
			want: []string{"status.decisions[0]: both sides of a deal conflict are parties"},
		},
		"both sides of a deal conflict are parties: the challenger's registrant still cannot": {
			old: conflictPending, new: appending(conflictPending, unstamped("chief", v1alpha1.DecisionApprove)), reviewer: "challenger-seller@example.com",
			want: []string{"status.decisions[0]: the requester cannot decide their own request (it was filed on behalf of challenger-seller@example.com)"},
		},
		"an update that adds nothing is not refused": {
			old: pending, new: pending.DeepCopy(), reviewer: "bob",
		},
		"other status changes are not this check's concern": {
			old: pending, new: otherChanges, reviewer: "bob",
		},
		"changing an earlier decision is refused": {
			old: pending, new: changed, reviewer: "bob",
			want: []string{"status.decisions[0]: decisions are append-only: decision 0 was changed"},
		},
		"restamping an earlier decision is refused": {
			old: pending, new: retimed, reviewer: "bob",
			want: []string{"status.decisions[0]: decisions are append-only: decision 0 was changed"},
		},
		"removing an earlier decision is refused": {
			old: pending, new: removed, reviewer: "bob",
			want: []string{"status.decisions[0]: decisions are append-only: decision 0 was removed (the update keeps 0 of 1 decisions)"},
		},
		"removing the last decisions is refused once": {
			old: twoRemoved, new: twoRemovedNew, reviewer: "bob",
			want: []string{"status.decisions[1]: decisions are append-only: decision 1 was removed (the update keeps 1 of 3 decisions)"},
		},
		"a decision on an approved request is refused": {
			old:      under(v1alpha1.PhaseApproved, ""),
			new:      appending(under(v1alpha1.PhaseApproved, ""), unstamped("finance", v1alpha1.DecisionDeny)),
			reviewer: "bob",
			want:     []string{"status.decisions[0]: the request is Approved; no decision can be added once a request is final"},
		},
		"a decision on a denied request is refused": {
			old:      under(v1alpha1.PhaseDenied, ""),
			new:      appending(under(v1alpha1.PhaseDenied, ""), unstamped("finance", v1alpha1.DecisionApprove)),
			reviewer: "bob",
			want:     []string{"status.decisions[0]: the request is Denied; no decision can be added once a request is final"},
		},
		"a decision on an expired request is refused": {
			old:      under(v1alpha1.PhaseExpired, ""),
			new:      appending(under(v1alpha1.PhaseExpired, ""), unstamped("finance", v1alpha1.DecisionApprove)),
			reviewer: "bob",
			want:     []string{"status.decisions[0]: the request is Expired"},
		},
		"a decision for a stage that is not current is refused": {
			old: pending, new: appending(pending, unstamped("manager", v1alpha1.DecisionApprove)), reviewer: "bob",
			want: []string{`status.decisions[1].stage: Invalid value: "manager": stage "manager" is not the current stage "finance"`},
		},
		"a decision before the path is resolved is refused": {
			old:      under(v1alpha1.PhasePending, ""),
			new:      appending(under(v1alpha1.PhasePending, ""), unstamped("manager", v1alpha1.DecisionApprove)),
			reviewer: "bob",
			want:     []string{"status.decisions[0].stage: Invalid value: \"manager\": the request has no current stage yet"},
		},
		"the requester cannot decide": {
			old: pending, new: appending(pending, unstamped("finance", v1alpha1.DecisionApprove)), reviewer: requester,
			want: []string{"status.decisions[1]: the requester cannot decide their own request (rep@partner.example filed it)"},
		},
		"a second decision by the same reviewer in the same stage is refused": {
			old:      under(v1alpha1.PhasePending, "finance", approve("manager", "alice"), approve("finance", "bob")),
			new:      appending(under(v1alpha1.PhasePending, "finance", approve("manager", "alice"), approve("finance", "bob")), unstamped("finance", v1alpha1.DecisionDeny)),
			reviewer: "bob",
			want:     []string{`status.decisions[2]: one decision per reviewer and stage: bob already decided stage "finance"`},
		},
		"two decisions in one update by the same reviewer are refused": {
			old: pending, reviewer: "bob",
			new:  appending(pending, unstamped("finance", v1alpha1.DecisionApprove), unstamped("finance", v1alpha1.DecisionApprove)),
			want: []string{`status.decisions[2]: one decision per reviewer and stage: bob already decided stage "finance"`},
		},
		"every rule broken at once is reported field by field": {
			old: pending, new: func() *v1alpha1.ExceptionRequest {
				n := changed.DeepCopy()
				n.Status.Decisions = append(n.Status.Decisions, unstamped("manager", v1alpha1.DecisionApprove))
				return n
			}(), reviewer: "bob",
			want: []string{
				"status.decisions[0]: decisions are append-only: decision 0 was changed",
				`status.decisions[2].stage: Invalid value: "manager": stage "manager" is not the current stage "finance"`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := ValidateDecisions(tc.old, tc.new, tc.reviewer, tc.partnerOwner)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors = %v, want %d: %q", errs, len(tc.want), tc.want)
			}
			for i, err := range errs {
				want := tc.want[i]
				field, msg, _ := strings.Cut(want, ": ")
				if err.Field != field || !strings.Contains(err.Error(), msg) {
					t.Errorf("error %d = %q, want field %s with %q", i, err.Error(), field, msg)
				}
			}
		})
	}
}

func TestAdded(t *testing.T) {
	old := under(v1alpha1.PhasePending, "finance", approve("manager", "alice"))
	tests := map[string]struct {
		new  *v1alpha1.ExceptionRequest
		want []v1alpha1.ReviewDecision
	}{
		"nothing added":  {new: old.DeepCopy()},
		"one added":      {new: appending(old, approve("finance", "bob")), want: []v1alpha1.ReviewDecision{approve("finance", "bob")}},
		"two added":      {new: appending(old, approve("finance", "bob"), deny("finance", "carol", "no")), want: []v1alpha1.ReviewDecision{approve("finance", "bob"), deny("finance", "carol", "no")}},
		"fewer than old": {new: under(v1alpha1.PhasePending, "finance")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Added(old, tc.new)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Added = %+v, want %+v", got, tc.want)
			}
			if len(got) > 0 {
				got[0].Rationale = "changed"
				if tc.new.Status.Decisions[len(old.Status.Decisions)].Rationale == "changed" {
					t.Error("Added aliases new's decisions")
				}
			}
		})
	}
}
