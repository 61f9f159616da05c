package effects

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func funds(name, amount string, approvedAt time.Time, phase v1alpha1.RequestPhase) v1alpha1.ExceptionRequest {
	return v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: &v1alpha1.Money{Amount: v1alpha1.Decimal(amount), Currency: "USD"}},
		Status: v1alpha1.ExceptionRequestStatus{Phase: phase, Conditions: []metav1.Condition{{
			Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(approvedAt),
		}}},
	}
}

func inCurrency(r v1alpha1.ExceptionRequest, currency string) v1alpha1.ExceptionRequest {
	r.Spec.Amount.Currency = currency
	return r
}

func claim(name string, expires *time.Time) v1alpha1.ExceptionRequest {
	r := funds(name, "0", now.Add(-time.Hour), v1alpha1.PhaseApproved)
	r.Spec = v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestReadinessClaim, Grant: &v1alpha1.Grant{
		Claim: &v1alpha1.ClaimGrant{Kind: v1alpha1.ReadinessClaimCertification, Product: "sync"}}}
	if expires != nil {
		r.Spec.Expires = &metav1.Time{Time: *expires}
	}
	return r
}

func TestQuarter(t *testing.T) {
	tests := map[string]struct {
		at       time.Time
		name     string
		nextFrom time.Time
	}{
		"November is Q4":           {at: now, name: "2026-Q4", nextFrom: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		"the first instant of Q2":  {at: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), name: "2026-Q2", nextFrom: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)},
		"the last second of March": {at: time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC), name: "2026-Q1", nextFrom: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			q, end := Quarter(tc.at)
			if q != tc.name || !end.Equal(tc.nextFrom) {
				t.Fatalf("Quarter = %s, %s; want %s, %s", q, end, tc.name, tc.nextFrom)
			}
		})
	}
}

func TestFunds(t *testing.T) {
	cap := &v1alpha1.Money{Amount: "100000", Currency: "USD"}
	tests := map[string]struct {
		requests      []v1alpha1.ExceptionRequest
		cap           *v1alpha1.Money
		wantNil       bool
		wantCommitted v1alpha1.Decimal
		wantRequests  []string
		wantRemaining v1alpha1.Decimal // excluding "b"
	}{
		"approved requests of this quarter are committed": {
			requests: []v1alpha1.ExceptionRequest{
				funds("b", "30000", now.Add(-time.Hour), v1alpha1.PhaseApproved),
				funds("a", "25000.5", now.Add(-24*time.Hour), v1alpha1.PhaseApproved),
			},
			cap: cap, wantCommitted: "55000.5", wantRequests: []string{"a", "b"}, wantRemaining: "74999.5",
		},
		"pending and denied requests commit nothing": {
			requests: []v1alpha1.ExceptionRequest{
				funds("p", "30000", now, v1alpha1.PhasePending),
				funds("d", "30000", now, v1alpha1.PhaseDenied),
			},
			cap: cap, wantCommitted: "0", wantRemaining: "100000",
		},
		"last quarter's approvals do not count": {
			requests: []v1alpha1.ExceptionRequest{funds("old", "90000", time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), v1alpha1.PhaseApproved)},
			cap:      cap, wantCommitted: "0", wantRemaining: "100000",
		},
		"no cap and no commitment is no funds position": {wantNil: true},
		"amounts in another currency than the cap's are never added": {
			requests: []v1alpha1.ExceptionRequest{
				funds("a", "1000", now, v1alpha1.PhaseApproved),
				inCurrency(funds("e", "5000", now, v1alpha1.PhaseApproved), "EUR"),
			},
			cap: cap, wantCommitted: "1000", wantRequests: []string{"a", "e"}, wantRemaining: "99000",
		},
		"remaining never goes below zero": {
			requests: []v1alpha1.ExceptionRequest{funds("x", "150000", now, v1alpha1.PhaseApproved)},
			cap:      cap, wantCommitted: "150000", wantRequests: []string{"x"}, wantRemaining: "0",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Funds(tc.requests, tc.cap, now, nil)
			if tc.wantNil {
				if got != nil {
					t.Fatalf("Funds = %+v, want nil", got)
				}
				return
			}
			if got.Quarter != "2026-Q4" || got.Committed != tc.wantCommitted {
				t.Fatalf("Funds = %s committed %s, want 2026-Q4 committed %s", got.Quarter, got.Committed, tc.wantCommitted)
			}
			var names []string
			for _, c := range got.Commitments {
				names = append(names, c.Request)
			}
			if len(names) != len(tc.wantRequests) {
				t.Fatalf("commitments %v, want %v", names, tc.wantRequests)
			}
			if r := Remaining(got, "b"); r == nil || r.Amount != tc.wantRemaining {
				t.Fatalf("Remaining = %v, want %s", r, tc.wantRemaining)
			}
		})
	}
}

func TestClaims(t *testing.T) {
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	pending := claim("pending", nil)
	pending.Status.Phase = v1alpha1.PhasePending
	until := claim("a-until", &future)
	until.Spec.Grant.Claim.Product = "relay"
	got := Claims([]v1alpha1.ExceptionRequest{claim("z-open", nil), claim("expired", &past), until, pending}, now, nil)
	if len(got) != 2 || got[0].Request != "a-until" || got[1].Request != "z-open" {
		t.Fatalf("Claims = %+v", got)
	}
	if next := NextChange(nil, got, now); next == nil || !next.Equal(future) {
		t.Fatalf("NextChange = %v, want %v", next, future)
	}
}

// The lists the controller writes stay within the API's bounds whatever the number
// of approved requests, so the partner's status write is never refused.
func TestBoundedLists(t *testing.T) {
	cap := &v1alpha1.Money{Amount: "1000000", Currency: "USD"}
	t.Run("a busy quarter folds its oldest commitments into the total", func(t *testing.T) {
		var requests []v1alpha1.ExceptionRequest
		for i := range MaxCommitments + 10 {
			requests = append(requests, funds(fmt.Sprintf("r%03d", i), "10", now.Add(-time.Duration(MaxCommitments+10-i)*time.Minute), v1alpha1.PhaseApproved))
		}
		got := Funds(requests, cap, now, nil)
		if len(got.Commitments) != MaxCommitments || got.FoldedCommitments != 10 {
			t.Fatalf("%d commitments listed, %d folded; want %d and 10", len(got.Commitments), got.FoldedCommitments, MaxCommitments)
		}
		if got.Committed != "2660" {
			t.Errorf("committed = %s, want 2660: folded commitments still count", got.Committed)
		}
		if got.Commitments[0].Request != "r010" {
			t.Errorf("first listed = %s, want r010 (the ten oldest folded)", got.Commitments[0].Request)
		}
		if r := Remaining(got, "r265"); r.Amount != "997350" {
			t.Errorf("Remaining excluding r265 = %s, want 997350", r.Amount)
		}
	})
	t.Run("claims keep one per kind and product and at most MaxClaims", func(t *testing.T) {
		var requests []v1alpha1.ExceptionRequest
		for i := range MaxClaims + 5 {
			r := claim(fmt.Sprintf("c%03d", i), nil)
			r.Spec.Grant.Claim.Product = fmt.Sprintf("p%03d", i)
			requests = append(requests, r, claim(fmt.Sprintf("dup%03d", i), nil)) // the dups share product "sync"
		}
		got := Claims(requests, now, nil)
		if len(got) != MaxClaims {
			t.Fatalf("%d claims, want %d", len(got), MaxClaims)
		}
		seen := map[string]bool{}
		for _, c := range got {
			if seen[c.Product] {
				t.Errorf("two claims for product %s", c.Product)
			}
			seen[c.Product] = true
		}
		few := Claims(requests[:4], now, nil) // c000 (p000), dup000 (sync), c001 (p001), dup001 (sync)
		if len(few) != 3 {
			t.Errorf("Claims of two products and two duplicates = %+v, want 3 claims", few)
		}
	})
}

// Decision integrity III, item 6: with sealing on, a Funds or ReadinessClaim
// request whose Approved phase no sealed decisions explain commits nothing and
// claims nothing.
func TestAForgedApprovalCommitsNothing(t *testing.T) {
	keys, err := seal.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	forged := func(q v1alpha1.ExceptionRequest) v1alpha1.ExceptionRequest {
		q.UID = "uid-" + types.UID(q.Name)
		q.Status.ReviewPath = &v1alpha1.ResolvedReviewPath{Name: "p", Stages: []v1alpha1.ReviewStage{{Name: "manager", Quorum: 1}}}
		q.Status.ReviewPath.Seal = keys.Sign(seal.Path(string(q.UID), *q.Status.ReviewPath)...)
		return q
	}
	decided := func(q v1alpha1.ExceptionRequest) v1alpha1.ExceptionRequest {
		q = forged(q)
		d := v1alpha1.ReviewDecision{Stage: "manager", Decision: v1alpha1.DecisionApprove, Rationale: "ok", Reviewer: "boss", Generation: 1}
		d.Seal = keys.Sign(seal.Decision(string(q.UID), 0, d)...)
		q.Status.Decisions = []v1alpha1.ReviewDecision{d}
		q.Status.Outcome = sealedApproval(keys, string(q.UID), now.Add(-time.Hour))
		return q
	}
	fundsReq := funds("f", "500", now.Add(-time.Hour), v1alpha1.PhaseApproved)
	claimReq := claim("c", nil)
	if f := Funds([]v1alpha1.ExceptionRequest{forged(fundsReq)}, nil, now, keys); f != nil {
		t.Errorf("a forged approval committed funds: %+v", f)
	}
	if c := Claims([]v1alpha1.ExceptionRequest{forged(claimReq)}, now, keys); len(c) != 0 {
		t.Errorf("a forged approval recorded claims: %+v", c)
	}
	if f := Funds([]v1alpha1.ExceptionRequest{decided(fundsReq)}, nil, now, keys); f == nil || len(f.Commitments) != 1 {
		t.Errorf("a sealed approval committed %+v, want one commitment", f)
	}
	if c := Claims([]v1alpha1.ExceptionRequest{decided(claimReq)}, now, keys); len(c) != 1 {
		t.Errorf("a sealed approval recorded claims %+v, want one", c)
	}
	// Issue 29: denied OverCap after the reviewer's sealed approval, and
	// written back to Approved past the webhooks: its sealed outcome says Denied.
	overCap := decided(fundsReq)
	denial := v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseDenied, Time: metav1.NewTime(now.Add(-time.Hour)), Reason: v1alpha1.ReasonOverCap}
	denial.Seal = keys.Sign(seal.RequestOutcome(string(overCap.UID), denial)...)
	overCap.Status.Outcome = &denial
	if f := Funds([]v1alpha1.ExceptionRequest{overCap}, nil, now, keys); f != nil {
		t.Errorf("a denial at approval written back to Approved committed funds: %+v", f)
	}
}

// sealedApproval is the controller's sealed Approved outcome of request uid at t.
func sealedApproval(keys *seal.Keys, uid string, t time.Time) *v1alpha1.RequestOutcome {
	o := v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseApproved, Time: metav1.NewTime(t), Reason: v1alpha1.ReasonQuorumReached}
	o.Seal = keys.Sign(seal.RequestOutcome(uid, o)...)
	return &o
}

// Decision integrity III, item 6: the approval's time is part of the outcome.
// With sealing on it is when the sealed approval was made, so an Approved
// condition rewritten past the webhooks moves no commitment to another quarter.
func TestTheApprovalTimeIsTheSealedDecisionsTime(t *testing.T) {
	keys, err := seal.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	decidedAt := metav1.NewTime(time.Date(2026, 9, 30, 12, 0, 0, 0, time.UTC)) // Q3
	q := funds("f", "500", now, v1alpha1.PhaseApproved)                        // the condition claims now, Q4
	q.UID = "uid-f"
	q.Status.ReviewPath = &v1alpha1.ResolvedReviewPath{Name: "p", Stages: []v1alpha1.ReviewStage{{Name: "manager", Quorum: 1}}}
	q.Status.ReviewPath.Seal = keys.Sign(seal.Path("uid-f", *q.Status.ReviewPath)...)
	d := v1alpha1.ReviewDecision{Stage: "manager", Decision: v1alpha1.DecisionApprove, Rationale: "ok", Reviewer: "boss", Time: &decidedAt, Generation: 1}
	d.Seal = keys.Sign(seal.Decision("uid-f", 0, d)...)
	q.Status.Decisions = []v1alpha1.ReviewDecision{d}
	q.Status.Outcome = sealedApproval(keys, "uid-f", decidedAt.Time)
	if at := ApprovedAt(&q, keys); at == nil || !at.Equal(decidedAt.Time) {
		t.Errorf("ApprovedAt = %v, want the sealed decision's time %v", at, decidedAt.Time)
	}
	if f := Funds([]v1alpha1.ExceptionRequest{q}, nil, now, keys); f != nil {
		t.Errorf("a Q3 approval whose condition was moved to Q4 commits %+v in Q4", f)
	}
	if at := ApprovedAt(&q, nil); at == nil || !at.Equal(now) {
		t.Errorf("with sealing off ApprovedAt = %v, want the condition's time", at)
	}

	// A decision made before decisions carried a time: the sealed outcome's
	// time places the commitment, not the condition rewritten to Q4.
	untimed := q.DeepCopy()
	untimed.Status.Decisions[0].Time = nil
	untimed.Status.Decisions[0].Seal = keys.Sign(seal.Decision("uid-f", 0, untimed.Status.Decisions[0])...)
	if at := ApprovedAt(untimed, keys); at == nil || !at.Equal(decidedAt.Time) {
		t.Errorf("with an untimed decision ApprovedAt = %v, want the sealed outcome's time %v", at, decidedAt.Time)
	}
	if f := Funds([]v1alpha1.ExceptionRequest{*untimed}, nil, now, keys); f != nil {
		t.Errorf("a Q3 approval with an untimed decision whose condition was moved to Q4 commits %+v in Q4", f)
	}
}
