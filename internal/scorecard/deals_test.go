package scorecard

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// registration is a DealRegistration of partner in namespace ns, changed by opts.
func registration(ns, name, partner string, phase v1alpha1.DealPhase, opts ...func(*v1alpha1.DealRegistration)) v1alpha1.DealRegistration {
	d := v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:   v1alpha1.DealRegistrationSpec{Partner: partner, Type: v1alpha1.DealResale, ProductLine: "sync"},
		Status: v1alpha1.DealRegistrationStatus{Phase: phase}}
	for _, o := range opts {
		o(&d)
	}
	return d
}

// approved stamps the submission and the approval, each that long ago.
func approved(submitted, approvedAgo time.Duration) func(*v1alpha1.DealRegistration) {
	return func(d *v1alpha1.DealRegistration) {
		s, a := metav1.NewMicroTime(now.Add(-submitted)), ago(approvedAgo)
		d.Spec.SubmittedAt, d.Status.ApprovedAt = &s, &a
	}
}

// won makes the registration Won for amount, closed closedAgo ago, credited
// as the controller's Attribute does: sourced to its partner, influenced to
// each influencer.
func won(amount, currency string, closedAgo time.Duration, influencers ...string) func(*v1alpha1.DealRegistration) {
	return func(d *v1alpha1.DealRegistration) {
		m := v1alpha1.Money{Amount: v1alpha1.Decimal(amount), Currency: currency}
		d.Status.Phase = v1alpha1.DealWon
		d.Status.Outcome = &v1alpha1.DealOutcome{Result: v1alpha1.DealResultWon, ClosedAt: ago(closedAgo), Amount: &m}
		d.Status.Attribution = &v1alpha1.Attribution{Sourced: &v1alpha1.Credit{Partner: d.Spec.Partner, Namespace: d.Namespace, Amount: m}}
		for _, p := range influencers {
			d.Status.Attribution.Influenced = append(d.Status.Attribution.Influenced,
				v1alpha1.Credit{Partner: p, Namespace: d.Namespace, Role: v1alpha1.InfluenceTechnicalWin, Amount: m})
		}
	}
}

func segment(s string) func(*v1alpha1.DealRegistration) {
	return func(d *v1alpha1.DealRegistration) { d.Spec.Customer.Segment = s }
}

func reason(r string) func(*v1alpha1.DealRegistration) {
	return func(d *v1alpha1.DealRegistration) { d.Status.Reason = r }
}

// history records earlier transitions as phase/reason pairs.
func history(transitions ...string) func(*v1alpha1.DealRegistration) {
	return func(d *v1alpha1.DealRegistration) {
		for i := 0; i+1 < len(transitions); i += 2 {
			d.Status.History = append(d.Status.History, v1alpha1.DealEvent{Sequence: int64(i/2 + 1), Time: ago(day),
				Phase: v1alpha1.DealPhase(transitions[i]), Reason: transitions[i+1]})
		}
	}
}

func funds(ns, name, partner, amount, currency string, phase v1alpha1.RequestPhase) v1alpha1.ExceptionRequest {
	q := request(ns, name, partner, v1alpha1.RequestFunds, phase)
	q.Spec.Amount = &v1alpha1.Money{Amount: v1alpha1.Decimal(amount), Currency: currency}
	return q
}

func joined(p v1alpha1.Partner, at time.Duration) v1alpha1.Partner {
	t := ago(at)
	p.Spec.JoinedAt = &t
	return p
}

func created(p v1alpha1.Partner, at time.Duration) v1alpha1.Partner {
	p.CreationTimestamp = ago(at)
	return p
}

// members are the partners most scenarios use: a holds select, b holds no
// tier, c holds premier; g belongs to another program.
func members() []v1alpha1.Partner {
	return []v1alpha1.Partner{
		joined(partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "select", 1), 100*day),
		joined(partner("p", "b", "global", v1alpha1.PartnerTypeISV, "", 0), 50*day),
		joined(partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "premier", 2), 300*day),
		joined(partner("p", "g", "other", v1alpha1.PartnerTypeGSI, "gold", 1), 10*day),
	}
}

func usd(sourced, influenced, funds string, won int32, tiers, segments []v1alpha1.DealRevenue) v1alpha1.DealCurrency {
	return v1alpha1.DealCurrency{Currency: "USD", WonDeals: won, Sourced: v1alpha1.Decimal(sourced), Influenced: v1alpha1.Decimal(influenced),
		CommittedFunds: v1alpha1.Decimal(funds), ByTier: tiers, BySegment: segments}
}

func rev(name string, won int32, sourced, influenced string) v1alpha1.DealRevenue {
	return v1alpha1.DealRevenue{Name: name, WonDeals: won, Sourced: v1alpha1.Decimal(sourced), Influenced: v1alpha1.Decimal(influenced)}
}

func phases(kv ...any) []v1alpha1.Count {
	var out []v1alpha1.Count
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, v1alpha1.Count{Name: string(kv[i].(v1alpha1.DealPhase)), Count: int32(kv[i+1].(int))})
	}
	return out
}

// TestDeals: each scenario is named after the rule it guards and fails when the
// rule breaks.
func TestDeals(t *testing.T) {
	closed := 10 * day // when the won deals of most scenarios closed
	for name, tc := range map[string]struct {
		partners []v1alpha1.Partner
		deals    []v1alpha1.DealRegistration
		requests []v1alpha1.ExceptionRequest
		want     *v1alpha1.DealFigures
	}{
		"without registrations or approved funds there are no deal figures": {
			partners: members(),
			requests: []v1alpha1.ExceptionRequest{funds("p", "f1", "a", "500", "USD", v1alpha1.PhasePending)},
		},
		"a lost deal earns nothing": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{registration("p", "d1", "a", v1alpha1.DealLost, approved(20*day, 20*day), func(d *v1alpha1.DealRegistration) {
				d.Status.Outcome = &v1alpha1.DealOutcome{Result: v1alpha1.DealResultLost, ClosedAt: ago(closed), Amount: &v1alpha1.Money{Amount: "900", Currency: "USD"}}
			})},
			want: &v1alpha1.DealFigures{Registrations: 1, ByPhase: phases(v1alpha1.DealLost, 1),
				ConflictRatePercent: ptr(int32(0)), ExpiryRatePercent: ptr(int32(0)),
				Approval: &v1alpha1.DealApprovalTime{Registrations: 1}},
		},
		"a won deal closed outside its protection earns nothing": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{registration("p", "d1", "a", v1alpha1.DealWon, approved(200*day, 200*day), won("900", "USD", closed),
				func(d *v1alpha1.DealRegistration) { d.Status.Attribution = nil })},
			want: &v1alpha1.DealFigures{Registrations: 1, ByPhase: phases(v1alpha1.DealWon, 1),
				ConflictRatePercent: ptr(int32(0)), ExpiryRatePercent: ptr(int32(0))},
		},
		"influenced revenue is never added to sourced": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				// influenced by two partners: counted once as influenced, once as sourced, never 200 or 300
				registration("p", "d1", "a", v1alpha1.DealWon, approved(20*day, 20*day), won("100", "USD", closed, "b", "c"), segment("enterprise")),
			},
			want: &v1alpha1.DealFigures{Registrations: 1, ByPhase: phases(v1alpha1.DealWon, 1),
				Currencies: []v1alpha1.DealCurrency{usd("100", "100", "0", 1,
					[]v1alpha1.DealRevenue{rev("select", 1, "100", "100")}, []v1alpha1.DealRevenue{rev("enterprise", 1, "100", "100")})},
				ConflictRatePercent: ptr(int32(0)), ExpiryRatePercent: ptr(int32(0)), Approval: &v1alpha1.DealApprovalTime{Registrations: 1},
				TimeToFirstRevenue: &v1alpha1.FirstRevenue{Partners: 1, MedianDays: "90"}},
		},
		"money is summed exactly": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				registration("p", "d1", "b", v1alpha1.DealWon, won("0.1", "USD", closed)),
				registration("p", "d2", "b", v1alpha1.DealWon, won("0.2", "USD", closed)),
				registration("p", "d3", "b", v1alpha1.DealWon, won("123456789012345678.7", "USD", closed)),
			},
			want: &v1alpha1.DealFigures{Registrations: 3, ByPhase: phases(v1alpha1.DealWon, 3),
				// a float64 sum gives 123456789012345680
				Currencies: []v1alpha1.DealCurrency{usd("123456789012345679", "0", "0", 3,
					[]v1alpha1.DealRevenue{rev("None", 3, "123456789012345679", "0")}, []v1alpha1.DealRevenue{rev("None", 3, "123456789012345679", "0")})},
				TimeToFirstRevenue: &v1alpha1.FirstRevenue{Partners: 1, MedianDays: "40"}},
		},
		"ROPI per currency never mixes currencies": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				registration("p", "d1", "a", v1alpha1.DealWon, won("300", "USD", closed)),
				registration("p", "d2", "a", v1alpha1.DealWon, won("50", "EUR", closed)),
			},
			requests: []v1alpha1.ExceptionRequest{
				funds("p", "f1", "a", "40", "USD", v1alpha1.PhaseApproved),
				funds("p", "f2", "c", "60", "USD", v1alpha1.PhaseApproved),
				funds("p", "f3", "b", "20", "GBP", v1alpha1.PhaseApproved), // funds without revenue: ROPI 0
				funds("p", "f4", "b", "7", "USD", v1alpha1.PhaseApproved),
			},
			want: &v1alpha1.DealFigures{Registrations: 2, ByPhase: phases(v1alpha1.DealWon, 2),
				Currencies: []v1alpha1.DealCurrency{
					// EUR revenue without EUR funds: no ROPI, never 50 against USD funds
					{Currency: "EUR", WonDeals: 1, Sourced: "50", Influenced: "0", CommittedFunds: "0",
						ByTier: []v1alpha1.DealRevenue{rev("select", 1, "50", "0")}, BySegment: []v1alpha1.DealRevenue{rev("None", 1, "50", "0")}},
					{Currency: "GBP", Sourced: "0", Influenced: "0", CommittedFunds: "20", ReturnOnInvestment: "0"},
					{Currency: "USD", WonDeals: 1, Sourced: "300", Influenced: "0", CommittedFunds: "107", ReturnOnInvestment: "2.803738318", // 300/107
						ByTier: []v1alpha1.DealRevenue{rev("select", 1, "300", "0")}, BySegment: []v1alpha1.DealRevenue{rev("None", 1, "300", "0")}},
				},
				TimeToFirstRevenue: &v1alpha1.FirstRevenue{Partners: 1, MedianDays: "90"}},
		},
		"only approved Funds requests of the program's partners are committed funds": {
			partners: members(),
			requests: []v1alpha1.ExceptionRequest{
				funds("p", "f1", "a", "100", "USD", v1alpha1.PhaseApproved),
				funds("p", "f2", "a", "1000", "USD", v1alpha1.PhasePending),
				funds("p", "f3", "a", "1000", "USD", v1alpha1.PhaseDenied),
				funds("p", "f4", "a", "1000", "USD", ""),
				funds("p", "f5", "g", "1000", "USD", v1alpha1.PhaseApproved),         // another program's partner
				funds("elsewhere", "f6", "a", "1000", "USD", v1alpha1.PhaseApproved), // no partner a there
				func() v1alpha1.ExceptionRequest { // approved, with an amount, but not Funds
					q := funds("p", "f7", "a", "1000", "USD", v1alpha1.PhaseApproved)
					q.Spec.Type = v1alpha1.RequestIncentiveException
					return q
				}(),
			},
			want: &v1alpha1.DealFigures{Currencies: []v1alpha1.DealCurrency{
				{Currency: "USD", Sourced: "0", Influenced: "0", CommittedFunds: "100", ReturnOnInvestment: "0"}}},
		},
		"revenue by tier follows the sourcing partner's tier and by segment the customer's": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				registration("p", "d1", "a", v1alpha1.DealWon, won("100", "USD", closed), segment("enterprise")),
				registration("p", "d2", "b", v1alpha1.DealWon, won("50", "USD", closed, "a"), segment("")),
				registration("p", "d3", "c", v1alpha1.DealWon, won("25", "USD", closed, "a"), segment("enterprise")),
			},
			want: &v1alpha1.DealFigures{Registrations: 3, ByPhase: phases(v1alpha1.DealWon, 3),
				Currencies: []v1alpha1.DealCurrency{usd("175", "75", "0", 3,
					// a influenced b's and c's deals: that is counted under b's and c's tiers, not a's
					[]v1alpha1.DealRevenue{rev("None", 1, "50", "50"), rev("premier", 1, "25", "25"), rev("select", 1, "100", "0")},
					[]v1alpha1.DealRevenue{rev("None", 1, "50", "50"), rev("enterprise", 2, "125", "25")})},
				// a 90 days after joining, b 40, c 290: median 90
				TimeToFirstRevenue: &v1alpha1.FirstRevenue{Partners: 3, MedianDays: "90"}},
		},
		"registrations of another program's partners do not count": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				registration("p", "d1", "g", v1alpha1.DealWon, won("100", "USD", closed)),
				registration("elsewhere", "d2", "a", v1alpha1.DealWon, won("100", "USD", closed)),
				registration("p", "d3", "nobody", v1alpha1.DealQueued),
			},
		},
		"a registration not evaluated yet counts as Submitted": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				registration("p", "d1", "a", ""), registration("p", "d2", "a", v1alpha1.DealSubmitted), registration("p", "d3", "a", v1alpha1.DealUnderReview),
			},
			want: &v1alpha1.DealFigures{Registrations: 3, ByPhase: phases(v1alpha1.DealSubmitted, 2, v1alpha1.DealUnderReview, 1)},
		},
		"the conflict rate is queued or rejected-against-a-holder registrations over decided ones": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				registration("p", "approved", "a", v1alpha1.DealApproved, approved(day, day)),                                                         // decided
				registration("p", "queued", "a", v1alpha1.DealQueued, reason(v1alpha1.ReasonDealHeld)),                                                // decided, conflict
				registration("p", "was-queued", "a", v1alpha1.DealApproved, approved(day, day), history("Queued", "HeldByAnother")),                   // decided, conflict
				registration("p", "direct", "a", v1alpha1.DealRejected, reason(v1alpha1.ReasonDealDirectEngaged)),                                     // decided, conflict
				registration("p", "duplicate", "b", v1alpha1.DealRejected, reason(v1alpha1.ReasonDealDuplicate)),                                      // decided, conflict
				registration("p", "not-entitled", "b", v1alpha1.DealRejected, reason(v1alpha1.ReasonDealNotEntitled)),                                 // decided
				registration("p", "queued-then-withdrawn", "b", v1alpha1.DealWithdrawn, history("Submitted", "Submitted", "Queued", "HeldByAnother")), // decided, conflict
				registration("p", "reviewing", "b", v1alpha1.DealUnderReview),                                                                         // not decided
				registration("p", "withdrawn", "b", v1alpha1.DealWithdrawn, history("Submitted", "Submitted")),                                        // not decided
				registration("p", "new", "b", ""), // not decided
			},
			want: &v1alpha1.DealFigures{Registrations: 10,
				ByPhase: phases(v1alpha1.DealApproved, 2, v1alpha1.DealQueued, 1, v1alpha1.DealRejected, 3, v1alpha1.DealSubmitted, 1,
					v1alpha1.DealUnderReview, 1, v1alpha1.DealWithdrawn, 2),
				ConflictRatePercent: ptr(int32(71)), // 5 of 7, rounded down
				Approval:            &v1alpha1.DealApprovalTime{Registrations: 2}},
		},
		"the expiry rate is expired over approved registrations that ended": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				registration("p", "expired", "a", v1alpha1.DealExpired, approved(200*day, 200*day), reason(v1alpha1.ReasonDealProtectionEnd)),
				registration("p", "won", "a", v1alpha1.DealWon, approved(200*day, 200*day), won("10", "USD", closed)),
				registration("p", "won-unprotected", "a", v1alpha1.DealWon, approved(200*day, 200*day), won("10", "USD", closed),
					func(d *v1alpha1.DealRegistration) { d.Status.Attribution = nil }), // ended after approval, earns nothing
				registration("p", "lost", "a", v1alpha1.DealLost, approved(200*day, 200*day)),
				registration("p", "open", "a", v1alpha1.DealApproved, approved(200*day, 200*day)),                           // not ended
				registration("p", "expired-in-review", "a", v1alpha1.DealExpired, reason(v1alpha1.ReasonDealDirectEngaged)), // never approved
			},
			want: &v1alpha1.DealFigures{Registrations: 6,
				ByPhase: phases(v1alpha1.DealApproved, 1, v1alpha1.DealExpired, 2, v1alpha1.DealLost, 1, v1alpha1.DealWon, 2),
				Currencies: []v1alpha1.DealCurrency{usd("10", "0", "0", 1,
					[]v1alpha1.DealRevenue{rev("select", 1, "10", "0")}, []v1alpha1.DealRevenue{rev("None", 1, "10", "0")})},
				ConflictRatePercent: ptr(int32(0)),
				ExpiryRatePercent:   ptr(int32(25)), // 1 of won, won-unprotected, lost, expired
				TimeToFirstRevenue:  &v1alpha1.FirstRevenue{Partners: 1, MedianDays: "90"}},
		},
		"approval time is p50 and p95 by nearest rank over approvals of the last 90 days": {
			partners: members(),
			deals: func() []v1alpha1.DealRegistration {
				var out []v1alpha1.DealRegistration
				for i := 1; i <= 10; i++ { // waited 10s, 20s, ..., 100s
					out = append(out, registration("p", fmt.Sprintf("d%d", i), "a", v1alpha1.DealApproved,
						approved(day+time.Duration(i*10)*time.Second, day)))
				}
				out = append(out,
					registration("p", "old", "a", v1alpha1.DealApproved, approved(200*day, 90*day)),                         // approved 90 days ago: outside
					registration("p", "edge", "a", v1alpha1.DealApproved, approved(90*day+time.Second, 90*day-time.Second)), // 2s, just inside
					registration("p", "unstamped", "a", v1alpha1.DealApproved, approved(day, day), func(d *v1alpha1.DealRegistration) { d.Spec.SubmittedAt = nil }))
				return out
			}(),
			want: &v1alpha1.DealFigures{Registrations: 13, ByPhase: phases(v1alpha1.DealApproved, 13), ConflictRatePercent: ptr(int32(0)),
				// 2, 10, 20, ..., 100: the 6th of 11 is 50, the 11th is 100
				Approval: &v1alpha1.DealApprovalTime{Registrations: 11, P50Seconds: 50, P95Seconds: 100}},
		},
		"time to first revenue counts from joinedAt, else creationTimestamp, to the first win": {
			partners: []v1alpha1.Partner{
				joined(partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "", 0), 100*day),
				created(partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "", 0), 30*day+12*time.Hour), // no joinedAt
				joined(partner("p", "c", "global", v1alpha1.PartnerTypeGSI, "", 0), 5*day),                // joined after its deal closed
				joined(partner("p", "d", "global", v1alpha1.PartnerTypeGSI, "", 0), 100*day),
			},
			deals: []v1alpha1.DealRegistration{
				registration("p", "a-later", "a", v1alpha1.DealWon, won("1", "USD", 10*day)),
				registration("p", "a-first", "a", v1alpha1.DealWon, won("1", "USD", 40*day)), // 60 days after joining
				registration("p", "b-first", "b", v1alpha1.DealWon, won("1", "USD", 10*day)), // 20.5 days after creation
				registration("p", "c-first", "c", v1alpha1.DealWon, won("1", "USD", 10*day)), // before joining: 0
				registration("p", "d-lost", "d", v1alpha1.DealLost),                          // no win: not counted
			},
			want: &v1alpha1.DealFigures{Registrations: 5, ByPhase: phases(v1alpha1.DealLost, 1, v1alpha1.DealWon, 4),
				Currencies: []v1alpha1.DealCurrency{usd("4", "0", "0", 4,
					[]v1alpha1.DealRevenue{rev("None", 4, "4", "0")}, []v1alpha1.DealRevenue{rev("None", 4, "4", "0")})},
				TimeToFirstRevenue: &v1alpha1.FirstRevenue{Partners: 3, MedianDays: "20.5"}}, // 0, 20.5, 60
		},
		"a currency whose sums a Decimal cannot hold is left out and counted, not written wrong": {
			partners: members(),
			deals: []v1alpha1.DealRegistration{
				registration("p", "d1", "b", v1alpha1.DealWon, won("999999999999999999", "JPY", closed)),
				registration("p", "d2", "b", v1alpha1.DealWon, won("1", "JPY", closed)),
			},
			want: &v1alpha1.DealFigures{Registrations: 2, ByPhase: phases(v1alpha1.DealWon, 2), OmittedCurrencies: 1,
				TimeToFirstRevenue: &v1alpha1.FirstRevenue{Partners: 1, MedianDays: "40"}},
		},
		"the median of an even number of partners is the mean of the middle two": {
			partners: []v1alpha1.Partner{
				joined(partner("p", "a", "global", v1alpha1.PartnerTypeGSI, "", 0), 100*day),
				joined(partner("p", "b", "global", v1alpha1.PartnerTypeGSI, "", 0), 100*day),
			},
			deals: []v1alpha1.DealRegistration{
				registration("p", "a1", "a", v1alpha1.DealWon, won("1", "USD", 90*day)), // 10 days
				registration("p", "b1", "b", v1alpha1.DealWon, won("1", "USD", 75*day)), // 25 days
			},
			want: &v1alpha1.DealFigures{Registrations: 2, ByPhase: phases(v1alpha1.DealWon, 2),
				Currencies: []v1alpha1.DealCurrency{usd("2", "0", "0", 2,
					[]v1alpha1.DealRevenue{rev("None", 2, "2", "0")}, []v1alpha1.DealRevenue{rev("None", 2, "2", "0")})},
				TimeToFirstRevenue: &v1alpha1.FirstRevenue{Partners: 2, MedianDays: "17.5"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := program()
			got := Deals(p, tc.partners, tc.deals, tc.requests, now)
			if !equality.Semantic.DeepEqual(got, tc.want) {
				t.Fatalf("Deals:\n got %s\nwant %s", show(got), show(tc.want))
			}
			// The order of the input does not matter, and the input is not changed.
			partners, deals, requests := slices.Clone(tc.partners), slices.Clone(tc.deals), slices.Clone(tc.requests)
			slices.Reverse(partners)
			slices.Reverse(deals)
			slices.Reverse(requests)
			if again := Deals(p, partners, deals, requests, now); !equality.Semantic.DeepEqual(again, got) {
				t.Fatalf("Deals on reversed input:\n got %s\nwant %s", show(again), show(got))
			}
		})
	}
}

func show(f *v1alpha1.DealFigures) string {
	if f == nil {
		return "nil"
	}
	s := fmt.Sprintf("%+v", *f)
	if f.ConflictRatePercent != nil {
		s += fmt.Sprintf(" conflict=%d", *f.ConflictRatePercent)
	}
	if f.ExpiryRatePercent != nil {
		s += fmt.Sprintf(" expiry=%d", *f.ExpiryRatePercent)
	}
	if f.Approval != nil {
		s += fmt.Sprintf(" approval=%+v", *f.Approval)
	}
	if f.TimeToFirstRevenue != nil {
		s += fmt.Sprintf(" firstRevenue=%+v", *f.TimeToFirstRevenue)
	}
	return s
}

// TestDealListsAreBounded: the scorecard stays small whatever the data. Beyond
// the bound the largest entries are kept, the others are counted as omitted,
// and the currency totals still count every deal.
func TestDealListsAreBounded(t *testing.T) {
	partners := members()
	var deals []v1alpha1.DealRegistration
	var requests []v1alpha1.ExceptionRequest
	for i := range v1alpha1.MaxDealGroups + 2 { // segment s00 earns 1, s01 earns 2, ...
		deals = append(deals, registration("p", fmt.Sprintf("seg%02d", i), "a", v1alpha1.DealWon,
			won(fmt.Sprint(i+1), "USD", day), segment(fmt.Sprintf("s%02d", i))))
	}
	for i := range v1alpha1.MaxDealCurrencies + 1 { // currency XAA has one approved funds request, XAB... a won deal each
		code := fmt.Sprintf("X%c%c", 'A'+i/26, 'A'+i%26)
		if i == 0 {
			requests = append(requests, funds("p", "f", "a", "1", code, v1alpha1.PhaseApproved))
			continue
		}
		deals = append(deals, registration("p", "cur-"+code, "b", v1alpha1.DealWon, won("1", code, day)))
	}
	got := Deals(program(), partners, deals, requests, now)
	if len(got.Currencies) != v1alpha1.MaxDealCurrencies || got.OmittedCurrencies != 2 {
		t.Fatalf("currencies: %d listed, %d omitted; want %d and 2", len(got.Currencies), got.OmittedCurrencies, v1alpha1.MaxDealCurrencies)
	}
	var codes []string
	for _, c := range got.Currencies {
		codes = append(codes, c.Currency)
	}
	// USD (18 won deals) first, then the currencies with one won deal by code; XAA (funds only) and the last by code are left out.
	if want := []string{"USD", "XAB", "XAC", "XAD", "XAE", "XAF", "XAG", "XAH"}; !slices.Equal(codes, want) {
		t.Fatalf("currencies kept: %v, want %v sorted", codes, want)
	}
	usd := got.Currencies[0]
	if len(usd.BySegment) != v1alpha1.MaxDealGroups || usd.OmittedSegments != 2 {
		t.Fatalf("segments: %d listed, %d omitted", len(usd.BySegment), usd.OmittedSegments)
	}
	if usd.BySegment[0].Name != "s02" || usd.Sourced != "171" { // s00 and s01 earned least; the total is 1+2+...+18
		t.Fatalf("bySegment starts with %s, sourced %s; want s02 and 171", usd.BySegment[0].Name, usd.Sourced)
	}
}

func TestNearestRankAndMedianDays(t *testing.T) {
	if got := NearestRank([]int64{7}, 95); got != 7 {
		t.Errorf("NearestRank of one value = %d", got)
	}
	if got := NearestRank([]int64{1, 2, 3, 4}, 50); got != 2 {
		t.Errorf("p50 of 1..4 = %d, want 2", got)
	}
	if got := NearestRank([]int64{1, 2, 3, 4}, 95); got != 4 {
		t.Errorf("p95 of 1..4 = %d, want 4", got)
	}
	d := int64(24 * 3600)
	for _, tc := range []struct {
		waits []int64
		want  v1alpha1.Decimal
	}{
		{[]int64{3 * d}, "3"},
		{[]int64{-5 * d, d}, "0.5"},     // a negative wait counts as zero
		{[]int64{d / 3}, "0.3"},         // rounded to one fractional digit
		{[]int64{d + d/20 - 1}, "1"},    // 1.0499...
		{[]int64{d + d/20}, "1.1"},      // 1.05 rounds up
		{[]int64{9 * d, d, 5 * d}, "5"}, // unsorted input
	} {
		if got := MedianDays(tc.waits); got != tc.want {
			t.Errorf("MedianDays(%v) = %s, want %s", tc.waits, got, tc.want)
		}
	}
}

func TestDealsDoesNotModifyItsInput(t *testing.T) {
	deals := []v1alpha1.DealRegistration{registration("p", "d1", "a", v1alpha1.DealWon, won("5", "USD", day, "b"), segment("smb"))}
	before := []v1alpha1.DealRegistration{*deals[0].DeepCopy()}
	partners, want := members(), members()
	Deals(program(), partners, deals, nil, now)
	if !equality.Semantic.DeepEqual(deals, before) || !equality.Semantic.DeepEqual(partners, want) {
		t.Fatal("Deals modified its input")
	}
}

func TestTopPartners(t *testing.T) {
	partners := members()
	deals := []v1alpha1.DealRegistration{
		registration("p", "a1", "a", v1alpha1.DealWon, won("100", "USD", 10*day, "b", "g")), // g is not a member: not listed
		registration("p", "a2", "a", v1alpha1.DealWon, won("0.5", "USD", 40*day)),
		registration("p", "b1", "b", v1alpha1.DealWon, won("300", "USD", 20*day, "c")),
		registration("p", "c1", "c", v1alpha1.DealWon, won("70", "EUR", 5*day)),
		registration("p", "c2", "c", v1alpha1.DealLost),                                                                                         // earns nothing
		registration("p", "c3", "c", v1alpha1.DealWon, won("9", "USD", day), func(d *v1alpha1.DealRegistration) { d.Status.Attribution = nil }), // nor this
		registration("p", "g1", "g", v1alpha1.DealWon, won("999", "USD", day)),                                                                  // another program
	}
	got := TopPartners(program(), partners, deals, 2)
	want := []PartnerRevenue{
		{Namespace: "p", Name: "c", Tier: "premier", Currency: "EUR", WonDeals: 1, Sourced: "70", Influenced: "0", FirstRevenueDays: "295"},
		// b's 300 sourced come first; a's influence on nothing and b's on a1 are kept apart from sourced
		{Namespace: "p", Name: "b", Tier: "None", Currency: "USD", WonDeals: 1, Sourced: "300", Influenced: "100", FirstRevenueDays: "30"},
		{Namespace: "p", Name: "a", Tier: "select", Currency: "USD", WonDeals: 2, Sourced: "100.5", Influenced: "0", FirstRevenueDays: "60"},
		// c (influenced 300 in USD, sourced none there) is third in USD: left out at n = 2
	}
	if !slices.Equal(got, want) {
		t.Fatalf("TopPartners:\n got %+v\nwant %+v", got, want)
	}
	if all := TopPartners(program(), partners, deals, 0); len(all) != 4 || all[3].Name != "c" || all[3].Influenced != "300" || all[3].FirstRevenueDays != "295" {
		t.Fatalf("TopPartners without a limit: %+v", all)
	}
}
