package review

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// TestBudgetExhausted: a Funds request whose approval would take its program's
// committed funds of the quarter above the program's budget is denied
// BudgetExhausted, whatever allowOverCap says; within the budget, or without
// one, it is approved.
func TestBudgetExhausted(t *testing.T) {
	budget := func(committed string) *Budget {
		return &Budget{Program: "global", Quarter: "2026-Q1", Limit: v1alpha1.Money{Amount: "10000", Currency: "USD"}, Committed: v1alpha1.Decimal(committed)}
	}
	normal := path("funds", funds, "", "", stage("manager", 1, time.Hour))
	overCap := path("funds", funds, "", "", stage("manager", 1, time.Hour, "overcap"))
	tests := map[string]struct {
		amount    string
		currency  string
		path      v1alpha1.ReviewPath
		remaining string // the partner's remaining cap
		budget    *Budget
		want      v1alpha1.RequestPhase
		reason    string
		message   []string
	}{
		"no budget: the cap alone decides": {
			amount: "6000", path: normal, remaining: "10000", want: v1alpha1.PhaseApproved, reason: v1alpha1.ReasonQuorumReached,
		},
		"within the budget": {
			amount: "4000", path: normal, remaining: "10000", budget: budget("6000"), want: v1alpha1.PhaseApproved, reason: v1alpha1.ReasonQuorumReached,
		},
		"half a unit over the budget": {
			amount: "4000.00", path: normal, remaining: "10000", budget: budget("6000.5"), want: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonBudgetExhausted,
			message: []string{"approving 4000.00 USD would commit 10000.5 USD", "3999.5 USD is left"},
		},
		"the last of the budget fits": {
			amount: "4000", path: normal, remaining: "10000", budget: budget("6000.000"), want: v1alpha1.PhaseApproved, reason: v1alpha1.ReasonQuorumReached,
		},
		"over the budget: denied, naming the budget, the committed total and the amount": {
			amount: "6000", path: normal, remaining: "10000", budget: budget("6000"), want: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonBudgetExhausted,
			message: []string{"at approval, approving 6000 USD would commit 12000 USD against program global's funds budget for 2026-Q1 of 10000 USD",
				"6000 USD is already committed, 4000 USD is left"},
		},
		"allowOverCap lets a partner past its cap, never the program past its budget": {
			amount: "6000", path: overCap, remaining: "1000", budget: budget("6000"), want: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonBudgetExhausted,
			message: []string{"whatever allowOverCap says"},
		},
		"allowOverCap within the budget approves over the cap": {
			amount: "6000", path: overCap, remaining: "1000", budget: budget("0"), want: v1alpha1.PhaseApproved, reason: v1alpha1.ReasonQuorumReached,
		},
		"a committed total beyond the budget leaves nothing": {
			amount: "1", path: normal, remaining: "10000", budget: budget("15000"), want: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonBudgetExhausted,
			message: []string{"15000 USD is already committed, 0 USD is left"},
		},
		"a full ledger counts no other approval": {
			amount: "1", path: normal, remaining: "10000", budget: func() *Budget { b := budget("0"); b.Full = true; return b }(),
			want: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonBudgetExhausted, message: []string{"the most one quarter's ledger holds"},
		},
		"a committed total that does not parse fails closed": {
			amount: "1", path: normal, remaining: "10000", budget: budget("lots"), want: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonBudgetExhausted,
		},
		"a budget in another currency fails closed": {
			amount: "1", currency: "EUR", path: normal, remaining: "10000", budget: budget("0"), want: v1alpha1.PhaseDenied, reason: v1alpha1.ReasonBudgetExhausted,
			message: []string{"the currencies differ"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := request(v1alpha1.RequestFunds, tc.amount)
			remaining := usd(tc.remaining)
			if tc.currency != "" {
				req.Spec.Amount.Currency, remaining.Currency = tc.currency, tc.currency
			}
			// Resolved at t0, approved by the manager an hour later.
			res := Evaluate(Input{Now: at(0), Request: req, Paths: []v1alpha1.ReviewPath{tc.path}, FundsRemaining: remaining})
			if res.Status.Phase != v1alpha1.PhasePending {
				t.Fatalf("after resolution: phase %s, want Pending (%s)", res.Status.Phase, condMessage(res.Status.Conditions, v1alpha1.ConditionReady))
			}
			req.Status = res.Status
			req.Status.Decisions = append(req.Status.Decisions, approve("manager", "alice@example.com"))
			res = Evaluate(Input{Now: at(time.Minute), Request: req, Paths: []v1alpha1.ReviewPath{tc.path}, FundsRemaining: remaining, Budget: tc.budget})
			if res.Status.Phase != tc.want {
				t.Fatalf("phase %s, want %s (%s)", res.Status.Phase, tc.want, condMessage(res.Status.Conditions, v1alpha1.ConditionReady))
			}
			ready := condSummary(res.Status.Conditions, v1alpha1.ConditionReady)
			if want := "Ready=" + string(metav1.ConditionTrue) + "/" + tc.reason; ready != want {
				t.Fatalf("%s, want %s", ready, want)
			}
			msg := condMessage(res.Status.Conditions, v1alpha1.ConditionReady)
			for _, m := range tc.message {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q does not say %q", msg, m)
				}
			}
		})
	}
}
