package funds

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // 2026-Q4

var q4 = v1alpha1.FundsBudget{Quarter: "2026-Q4", Currency: "USD", Amount: "10000"}

// request is a Funds request named name (its UID "uid-<name>") of partner acme
// for amount USD, in phase, approved at approvedAt when the phase is Approved.
func request(name, amount string, phase v1alpha1.RequestPhase, approvedAt time.Time) v1alpha1.ExceptionRequest {
	q := v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: name, UID: types.UID("uid-" + name)},
		Spec: v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Partner: "acme",
			Amount: &v1alpha1.Money{Amount: v1alpha1.Decimal(amount), Currency: "USD"}},
		Status: v1alpha1.ExceptionRequestStatus{Phase: phase},
	}
	if phase == v1alpha1.PhaseApproved {
		q.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(approvedAt)}}
	}
	return q
}

func inEUR(q v1alpha1.ExceptionRequest) v1alpha1.ExceptionRequest {
	q.Spec.Amount.Currency = "EUR"
	return q
}

// reserved is the stored reservation of request name for amount.
func reserved(name, amount string) v1alpha1.FundsReservation {
	return v1alpha1.FundsReservation{Namespace: "partners", Request: name, UID: "uid-" + name, Partner: "acme",
		Amount: v1alpha1.Decimal(amount), ReservedAt: metav1.NewTime(now.Add(-time.Minute))}
}

func names(rs []v1alpha1.FundsReservation) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Request+"="+string(r.Amount))
	}
	return out
}

// TestCount: what a budget's ledger counts is re-derived from the requests
// each time, so a reservation counts only while its request may still be
// approved in the ledger's quarter, and every approval of the quarter counts
// once, reserved or not.
func TestCount(t *testing.T) {
	sealsOn, err := seal.New([]byte("partnergov-funds-test-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	lastQuarter := time.Date(2026, 9, 30, 23, 59, 59, 0, time.UTC)
	tests := map[string]struct {
		stored        []v1alpha1.FundsReservation
		requests      []v1alpha1.ExceptionRequest
		moved         []v1alpha1.ExceptionRequest
		elsewhere     map[string]bool
		seals         *seal.Keys
		wantKept      []string
		wantReleased  []string
		wantCommitted v1alpha1.Decimal
	}{
		"nothing reserved, nothing approved": {
			wantKept: []string{}, wantReleased: []string{}, wantCommitted: "0",
		},
		"an approval of the quarter counts though it was never reserved (approved before the budget existed)": {
			requests: []v1alpha1.ExceptionRequest{request("early", "2500", v1alpha1.PhaseApproved, now.Add(-24*time.Hour))},
			wantKept: []string{"early=2500"}, wantReleased: []string{}, wantCommitted: "2500",
		},
		"a reserved approval counts once": {
			stored:   []v1alpha1.FundsReservation{reserved("a", "6000")},
			requests: []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhaseApproved, now)},
			wantKept: []string{"a=6000"}, wantReleased: []string{}, wantCommitted: "6000",
		},
		"a reservation whose approval is being written counts": {
			stored:   []v1alpha1.FundsReservation{reserved("a", "6000")},
			requests: []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhasePending, time.Time{})},
			wantKept: []string{"a=6000"}, wantReleased: []string{}, wantCommitted: "6000",
		},
		"a pending request without a reservation counts nothing": {
			requests: []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhasePending, time.Time{})},
			wantKept: []string{}, wantReleased: []string{}, wantCommitted: "0",
		},
		"a reservation of a denied request is released": {
			stored:   []v1alpha1.FundsReservation{reserved("a", "6000"), reserved("b", "1000")},
			requests: []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhaseDenied, time.Time{}), request("b", "1000", v1alpha1.PhaseApproved, now)},
			wantKept: []string{"b=1000"}, wantReleased: []string{"a=6000"}, wantCommitted: "1000",
		},
		"a reservation of a withdrawn request is released": {
			stored:   []v1alpha1.FundsReservation{reserved("a", "6000")},
			requests: []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhaseWithdrawn, time.Time{})},
			wantKept: []string{}, wantReleased: []string{"a=6000"}, wantCommitted: "0",
		},
		"a reservation of a deleted request is released": {
			stored:   []v1alpha1.FundsReservation{reserved("gone", "6000")},
			wantKept: []string{}, wantReleased: []string{"gone=6000"}, wantCommitted: "0",
		},
		"a reservation of a request created again under the same name is released": {
			stored: []v1alpha1.FundsReservation{reserved("a", "6000")},
			requests: []v1alpha1.ExceptionRequest{func() v1alpha1.ExceptionRequest {
				q := request("a", "6000", v1alpha1.PhasePending, time.Time{})
				q.UID = "uid-a-again"
				return q
			}()},
			wantKept: []string{}, wantReleased: []string{"a=6000"}, wantCommitted: "0",
		},
		"a reservation whose request was approved in another quarter is released": {
			stored:   []v1alpha1.FundsReservation{reserved("a", "6000")},
			requests: []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhaseApproved, lastQuarter)},
			wantKept: []string{}, wantReleased: []string{"a=6000"}, wantCommitted: "0",
		},
		"approvals of other quarters and currencies do not count": {
			requests: []v1alpha1.ExceptionRequest{
				request("q3", "6000", v1alpha1.PhaseApproved, lastQuarter),
				inEUR(request("eur", "6000", v1alpha1.PhaseApproved, now)),
				request("q4", "1000.5", v1alpha1.PhaseApproved, now),
			},
			wantKept: []string{"q4=1000.5"}, wantReleased: []string{}, wantCommitted: "1000.5",
		},
		"an approval no sealed decision explains counts nothing, and its reservation is released": {
			stored:   []v1alpha1.FundsReservation{reserved("forged", "6000")},
			requests: []v1alpha1.ExceptionRequest{request("forged", "6000", v1alpha1.PhaseApproved, now), request("pending", "500", v1alpha1.PhasePending, time.Time{})},
			seals:    sealsOn,
			wantKept: []string{}, wantReleased: []string{"forged=6000"}, wantCommitted: "0",
		},
		"a reservation listed twice counts once": {
			stored:   []v1alpha1.FundsReservation{reserved("a", "6000"), reserved("a", "6000")},
			requests: []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhasePending, time.Time{})},
			wantKept: []string{"a=6000"}, wantReleased: []string{"a=6000"}, wantCommitted: "6000",
		},
		"an approval whose partner moved to another program keeps counting where it was reserved": {
			stored:   []v1alpha1.FundsReservation{reserved("a", "6000")},
			moved:    []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhaseApproved, now)},
			wantKept: []string{"a=6000"}, wantReleased: []string{}, wantCommitted: "6000",
		},
		"an approval of a partner moved in, reserved by another program's ledger, counts there only": {
			requests:  []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhaseApproved, now), request("b", "1000", v1alpha1.PhaseApproved, now)},
			elsewhere: map[string]bool{"uid-a": true},
			wantKept:  []string{"b=1000"}, wantReleased: []string{}, wantCommitted: "1000",
		},
		"a moved partner's approval no reservation here lists does not count here": {
			moved:    []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhaseApproved, now)},
			wantKept: []string{}, wantReleased: []string{}, wantCommitted: "0",
		},
		"the amount is the request's, not what the ledger says": {
			stored:   []v1alpha1.FundsReservation{reserved("a", "1")},
			requests: []v1alpha1.ExceptionRequest{request("a", "6000", v1alpha1.PhaseApproved, now)},
			wantKept: []string{"a=6000"}, wantReleased: []string{}, wantCommitted: "6000",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			kept, released := Count(q4, tc.stored, tc.requests, tc.moved, tc.elsewhere, tc.seals)
			if got := names(kept); !slices.Equal(got, tc.wantKept) {
				t.Errorf("kept %v, want %v", got, tc.wantKept)
			}
			if got := names(released); !slices.Equal(got, tc.wantReleased) {
				t.Errorf("released %v, want %v", got, tc.wantReleased)
			}
			if got := Committed(kept, ""); got != tc.wantCommitted {
				t.Errorf("committed %s, want %s", got, tc.wantCommitted)
			}
		})
	}
}

// TestCheck: the request being decided is not counted against itself (a
// reservation it made before a crash is its own), and a full ledger has no
// room for another request.
func TestCheck(t *testing.T) {
	q := request("mine", "4000", v1alpha1.PhasePending, time.Time{})
	full := make([]v1alpha1.FundsReservation, v1alpha1.MaxFundsReservations)
	for i := range full {
		full[i] = v1alpha1.FundsReservation{UID: "uid-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Amount: "0"}
	}
	tests := map[string]struct {
		kept          []v1alpha1.FundsReservation
		wantCommitted v1alpha1.Decimal
		wantFull      bool
	}{
		"the others' reservations count": {
			kept: []v1alpha1.FundsReservation{reserved("a", "6000"), reserved("b", "0.5")}, wantCommitted: "6000.5",
		},
		"its own reservation does not count against it": {
			kept: []v1alpha1.FundsReservation{reserved("a", "6000"), reserved("mine", "4000")}, wantCommitted: "6000",
		},
		"a full ledger has no room for a new reservation": {
			kept: full, wantCommitted: "0", wantFull: true,
		},
		"a full ledger that holds the request's reservation has room for it": {
			kept: append(slices.Clone(full[1:]), reserved("mine", "4000")), wantCommitted: "0",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := Check("global", q4, tc.kept, &q)
			if b.Committed != tc.wantCommitted || b.Full != tc.wantFull {
				t.Fatalf("committed %s, full %v; want %s, %v", b.Committed, b.Full, tc.wantCommitted, tc.wantFull)
			}
			if b.Program != "global" || b.Quarter != "2026-Q4" || b.Limit != (v1alpha1.Money{Amount: "10000", Currency: "USD"}) {
				t.Fatalf("budget %+v", b)
			}
		})
	}
}

// TestReserveAndRelease: a request holds one reservation, of its own amount.
func TestReserveAndRelease(t *testing.T) {
	q := request("b", "4000", v1alpha1.PhasePending, time.Time{})
	tests := map[string]struct {
		kept        []v1alpha1.FundsReservation
		wantReserve []string
	}{
		"a new reservation is added in order":   {kept: []v1alpha1.FundsReservation{reserved("a", "1"), reserved("c", "2")}, wantReserve: []string{"a=1", "b=4000", "c=2"}},
		"a reservation made before is replaced": {kept: []v1alpha1.FundsReservation{reserved("b", "1")}, wantReserve: []string{"b=4000"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Reserve(tc.kept, &q, now)
			if !slices.Equal(names(got), tc.wantReserve) {
				t.Fatalf("reserved %v, want %v", names(got), tc.wantReserve)
			}
			again := Reserve(got, &q, now.Add(time.Hour))
			if !slices.Equal(again, got) {
				t.Fatalf("reserving again changed the ledger: %v", again)
			}
			left, held := Release(got, string(q.UID))
			if !held || slices.Contains(names(left), "b=4000") || len(left) != len(got)-1 {
				t.Fatalf("released: %v, held %v", names(left), held)
			}
			if _, held := Release(left, string(q.UID)); held {
				t.Fatal("released twice")
			}
		})
	}
}

// TestLedgerName: one name per program, quarter and currency, a valid object
// name however long the program's.
func TestLedgerName(t *testing.T) {
	long := strings.Repeat("p", 250)
	tests := map[string]struct {
		program, quarter, currency string
		want                       string
	}{
		"readable":              {program: "global", quarter: "2026-Q4", currency: "USD", want: "global-2026-q4-usd"},
		"another quarter":       {program: "global", quarter: "2027-Q1", currency: "USD", want: "global-2027-q1-usd"},
		"a program too long":    {program: long, quarter: "2026-Q4", currency: "USD", want: "funds-"},
		"dots in program names": {program: "emea.resellers", quarter: "2026-Q4", currency: "EUR", want: "emea.resellers-2026-q4-eur"},
	}
	seen := map[string]string{}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := LedgerName(tc.program, tc.quarter, tc.currency)
			if !strings.HasPrefix(got, tc.want) || len(got) > 253 {
				t.Fatalf("LedgerName = %q, want %q", got, tc.want)
			}
			if other, dup := seen[got]; dup {
				t.Fatalf("%q is also %s's name", got, other)
			}
			seen[got] = name
		})
	}
	if LedgerName(long, "2026-Q4", "USD") == LedgerName(long, "2026-Q4", "EUR") {
		t.Fatal("two currencies of a long program share a ledger")
	}
}

// TestApprovalQuarter: an approval counts in the quarter it was made in, as
// effects.Funds places it, not in the quarter it is evaluated in.
func TestApprovalQuarter(t *testing.T) {
	tests := map[string]struct {
		status v1alpha1.ExceptionRequestStatus
		want   string
	}{
		"approved now":                     {status: request("a", "1", v1alpha1.PhaseApproved, now).Status, want: "2026-Q4"},
		"approved at the end of September": {status: request("a", "1", v1alpha1.PhaseApproved, time.Date(2026, 9, 30, 23, 59, 59, 0, time.UTC)).Status, want: "2026-Q3"},
		"no approval instant: now":         {status: v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhaseApproved}, want: "2026-Q4"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			q := request("a", "1", v1alpha1.PhasePending, time.Time{})
			if got := ApprovalQuarter(&q, &tc.status, now, nil); got != tc.want {
				t.Fatalf("ApprovalQuarter = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFigures: the scorecard shows each budget with the approvals of its
// quarter and currency, and what is left.
func TestFigures(t *testing.T) {
	program := &v1alpha1.PartnerProgram{Spec: v1alpha1.PartnerProgramSpec{Funds: &v1alpha1.ProgramFunds{Budgets: []v1alpha1.FundsBudget{
		{Quarter: "2027-Q1", Currency: "USD", Amount: "5000"},
		q4,
		{Quarter: "2026-Q4", Currency: "EUR", Amount: "100"},
	}}}}
	requests := []v1alpha1.ExceptionRequest{
		request("a", "6000", v1alpha1.PhaseApproved, now),
		request("b", "1000", v1alpha1.PhasePending, time.Time{}),
		inEUR(request("c", "150", v1alpha1.PhaseApproved, now)),
		request("last-quarter", "99", v1alpha1.PhaseApproved, time.Date(2026, 9, 30, 23, 59, 59, 0, time.UTC)),
		request("next-quarter", "700", v1alpha1.PhaseApproved, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	got := Figures(program, requests, nil)
	want := []v1alpha1.FundsBudgetFigure{
		{Quarter: "2026-Q4", Currency: "EUR", Budget: "100", Committed: "150", Remaining: "0"},
		{Quarter: "2026-Q4", Currency: "USD", Budget: "10000", Committed: "6000", Remaining: "4000"},
		{Quarter: "2027-Q1", Currency: "USD", Budget: "5000", Committed: "700", Remaining: "4300"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Figures =\n%+v\nwant\n%+v", got, want)
	}
	if Figures(&v1alpha1.PartnerProgram{}, requests, nil) != nil {
		t.Fatal("a program without budgets has figures")
	}
}

// TestOfProgram: a program's budgets count the Funds requests of its
// partners, not another program's, nor a predecessor's of the same name.
func TestOfProgram(t *testing.T) {
	partners := []v1alpha1.Partner{{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme", UID: "acme-now"}}}
	mine := request("mine", "1", v1alpha1.PhasePending, time.Time{})
	mine.Spec.PartnerUID = "acme-now"
	old := request("old", "1", v1alpha1.PhaseApproved, now)
	old.Spec.PartnerUID = "acme-before"
	other := request("other", "1", v1alpha1.PhaseApproved, now)
	other.Namespace = "elsewhere"
	claim := request("claim", "1", v1alpha1.PhaseApproved, now)
	claim.Spec.Type = v1alpha1.RequestReadinessClaim
	got := OfProgram(partners, []v1alpha1.ExceptionRequest{mine, old, other, claim})
	if len(got) != 1 || got[0].Name != "mine" {
		t.Fatalf("OfProgram kept %d requests: %v", len(got), got)
	}
}
