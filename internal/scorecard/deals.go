package scorecard

import (
	"cmp"
	"math/big"
	"slices"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// NoSegment is the name bySegment counts deals without a customer segment under.
const NoSegment = "None"

// Deals returns the deal registration KPIs of program at now, as documented on
// v1alpha1.DealFigures, or nil when the program's partners have no registration
// and no approved Funds request. Only objects of the program count: partners
// whose spec.program is the program's name, and the registrations and requests
// whose spec.partner names one of them in their namespace.
//
// Revenue is read from status.attribution, never from status.outcome: a lost
// deal and a won deal closed outside its protection earn nothing. Amounts are
// summed exactly with big.Rat, per currency; sourced and influenced revenue are
// kept apart, and no figure adds amounts of two currencies.
func Deals(program *v1alpha1.PartnerProgram, partners []v1alpha1.Partner, deals []v1alpha1.DealRegistration,
	requests []v1alpha1.ExceptionRequest, now time.Time) *v1alpha1.DealFigures {
	if program == nil {
		return nil
	}
	members := membersOf(program, partners)
	var figures v1alpha1.DealFigures
	phases := map[string]int32{}
	currencies := map[string]*currencyTotals{}
	currency := func(code string) *currencyTotals {
		c := currencies[code]
		if c == nil {
			c = &currencyTotals{tiers: map[string]*revenue{}, segments: map[string]*revenue{}}
			currencies[code] = c
		}
		return c
	}
	var decided, conflicts, ended, expired int32
	var approvals []int64
	firstWon := map[partnerKey]time.Time{}
	since := now.Add(-v1alpha1.DealApprovalWindow)

	for i := range deals {
		d := &deals[i]
		p := members[partnerKey{d.Namespace, d.Spec.Partner}]
		if p == nil {
			continue
		}
		figures.Registrations++
		phase := d.Status.Phase
		if phase == "" {
			phase = v1alpha1.DealSubmitted
		}
		phases[string(phase)]++
		if Decided(d) {
			decided++
			if Conflicted(d) {
				conflicts++
			}
		}
		if d.Status.ApprovedAt != nil {
			switch phase {
			case v1alpha1.DealExpired:
				expired++
				ended++
			case v1alpha1.DealWon, v1alpha1.DealLost:
				ended++
			}
			if d.Spec.SubmittedAt != nil && within(d.Status.ApprovedAt.Time, since, now) {
				approvals = append(approvals, max(0, int64(d.Status.ApprovedAt.Sub(d.Spec.SubmittedAt.Time)/time.Second)))
			}
		}

		amount, influenced, ok := wonCredit(d)
		if !ok {
			continue
		}
		v, err := decimal.Parse(amount.Amount)
		if err != nil {
			continue
		}
		c := currency(amount.Currency)
		c.add(v, influenced)
		group(c.tiers, orUntiered(p.Status.Tier)).add(v, influenced)
		group(c.segments, orNoSegment(d.Spec.Customer.Segment)).add(v, influenced)
		key, closed := partnerKey{d.Namespace, d.Spec.Partner}, d.Status.Outcome.ClosedAt.Time
		if first, seen := firstWon[key]; !seen || closed.Before(first) {
			firstWon[key] = closed
		}
	}

	for i := range requests {
		q := &requests[i]
		if members[partnerKey{q.Namespace, q.Spec.Partner}] == nil || q.Spec.Type != v1alpha1.RequestFunds ||
			q.Status.Phase != v1alpha1.PhaseApproved || q.Spec.Amount == nil {
			continue
		}
		v, err := decimal.Parse(q.Spec.Amount.Amount)
		if err != nil {
			continue
		}
		c := currency(q.Spec.Amount.Currency)
		c.funds.Add(&c.funds, v)
		c.fundsRequests++
	}

	if figures.Registrations == 0 && len(currencies) == 0 {
		return nil
	}
	figures.ByPhase = counts(phases)
	figures.Currencies, figures.OmittedCurrencies = currencyFigures(currencies)
	figures.ConflictRatePercent = percent(conflicts, decided)
	figures.ExpiryRatePercent = percent(expired, ended)
	if len(approvals) > 0 {
		slices.Sort(approvals)
		figures.Approval = &v1alpha1.DealApprovalTime{
			Registrations: int32(len(approvals)),
			P50Seconds:    NearestRank(approvals, 50),
			P95Seconds:    NearestRank(approvals, 95),
		}
	}
	figures.TimeToFirstRevenue = firstRevenue(members, firstWon)
	return &figures
}

// partnerKey is a partner's namespace and name.
type partnerKey struct{ namespace, name string }

// membersOf maps the program's partners by namespace and name.
func membersOf(program *v1alpha1.PartnerProgram, partners []v1alpha1.Partner) map[partnerKey]*v1alpha1.Partner {
	members := map[partnerKey]*v1alpha1.Partner{}
	for i := range partners {
		if partners[i].Spec.Program == program.Name {
			members[partnerKey{partners[i].Namespace, partners[i].Name}] = &partners[i]
		}
	}
	return members
}

// wonCredit is the won amount registration d credits as sourced, and whether
// some partner is credited as influencing it; ok is false for every
// registration that earns nothing: not Won, or Won outside its protection
// (no attribution).
func wonCredit(d *v1alpha1.DealRegistration) (amount v1alpha1.Money, influenced, ok bool) {
	a := d.Status.Attribution
	if d.Status.Phase != v1alpha1.DealWon || d.Status.Outcome == nil || a == nil || a.Sourced == nil {
		return v1alpha1.Money{}, false, false
	}
	return a.Sourced.Amount, len(a.Influenced) > 0, true
}

// Decided reports whether the rules gave registration d a standing on its
// customer: it was approved, or its phase or a transition in its history is
// Approved, Queued or Rejected.
func Decided(d *v1alpha1.DealRegistration) bool {
	if d.Status.ApprovedAt != nil {
		return true
	}
	return anyTransition(d, func(phase v1alpha1.DealPhase, _ string) bool {
		return phase == v1alpha1.DealApproved || phase == v1alpha1.DealQueued || phase == v1alpha1.DealRejected
	})
}

// Conflicted reports whether registration d met a conflict: its phase or a
// transition in its history is Queued, or Rejected because the direct team or
// another registration holds the customer (DirectEngaged, Duplicate).
func Conflicted(d *v1alpha1.DealRegistration) bool {
	return anyTransition(d, func(phase v1alpha1.DealPhase, reason string) bool {
		return phase == v1alpha1.DealQueued || (phase == v1alpha1.DealRejected &&
			(reason == v1alpha1.ReasonDealDirectEngaged || reason == v1alpha1.ReasonDealDuplicate))
	})
}

// anyTransition reports whether f holds for d's current phase and reason or
// for a transition in its history.
func anyTransition(d *v1alpha1.DealRegistration, f func(v1alpha1.DealPhase, string) bool) bool {
	if f(d.Status.Phase, d.Status.Reason) {
		return true
	}
	return slices.ContainsFunc(d.Status.History, func(e v1alpha1.DealEvent) bool { return f(e.Phase, e.Reason) })
}

// revenue accumulates won deals of one currency, tier or segment.
type revenue struct {
	won                 int32
	sourced, influenced big.Rat
}

// add counts one won deal of amount v; influenced says whether any partner
// influenced it. The deal is counted in influenced once, however many did.
func (r *revenue) add(v *big.Rat, influenced bool) {
	r.won++
	r.sourced.Add(&r.sourced, v)
	if influenced {
		r.influenced.Add(&r.influenced, v)
	}
}

// currencyTotals are the figures of one currency.
type currencyTotals struct {
	revenue
	funds         big.Rat
	fundsRequests int
	tiers         map[string]*revenue
	segments      map[string]*revenue
}

func group(m map[string]*revenue, name string) *revenue {
	if m[name] == nil {
		m[name] = &revenue{}
	}
	return m[name]
}

func orUntiered(tier string) string {
	if tier == "" {
		return Untiered
	}
	return tier
}

func orNoSegment(segment string) string {
	if segment == "" {
		return NoSegment
	}
	return segment
}

// maxDecimal is the first value a Decimal cannot hold (18 integer digits).
var maxDecimal = new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil))

// currencyFigures lists the currencies sorted by code, at most
// MaxDealCurrencies of them: those with the most won deals, then the most
// approved Funds requests, then by code, leaving out any whose sums reach
// 10^18; it returns how many were left out.
func currencyFigures(m map[string]*currencyTotals) ([]v1alpha1.DealCurrency, int32) {
	codes := make([]string, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	slices.SortFunc(codes, func(a, b string) int {
		return cmp.Or(-cmp.Compare(m[a].won, m[b].won), -cmp.Compare(m[a].fundsRequests, m[b].fundsRequests), cmp.Compare(a, b))
	})
	// A sum a Decimal cannot hold would make the whole status write invalid:
	// its currency is left out instead (its groups' sums are at most its own).
	fits := func(code string) bool {
		c := m[code]
		return c.sourced.Cmp(maxDecimal) < 0 && c.influenced.Cmp(maxDecimal) < 0 && c.funds.Cmp(maxDecimal) < 0
	}
	omitted := int32(len(codes))
	codes = slices.DeleteFunc(codes, func(code string) bool { return !fits(code) })
	codes = codes[:min(len(codes), v1alpha1.MaxDealCurrencies)]
	omitted -= int32(len(codes))
	slices.Sort(codes)
	out := make([]v1alpha1.DealCurrency, 0, len(codes))
	for _, code := range codes {
		c := m[code]
		f := v1alpha1.DealCurrency{Currency: code, WonDeals: c.won,
			Sourced: decimal.Format(&c.sourced), Influenced: decimal.Format(&c.influenced), CommittedFunds: decimal.Format(&c.funds)}
		if c.funds.Sign() > 0 {
			ropi := new(big.Rat).Quo(&c.sourced, &c.funds)
			if ropi.Cmp(maxDecimal) < 0 {
				f.ReturnOnInvestment = decimal.Format(ropi)
			}
		}
		f.ByTier, f.OmittedTiers = groups(c.tiers)
		f.BySegment, f.OmittedSegments = groups(c.segments)
		out = append(out, f)
	}
	return out, omitted
}

// groups lists tiers or segments sorted by name, at most MaxDealGroups of
// them: those with the largest sourced revenue, then influenced, then by name;
// it returns how many were left out.
func groups(m map[string]*revenue) ([]v1alpha1.DealRevenue, int32) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(-m[a].sourced.Cmp(&m[b].sourced), -m[a].influenced.Cmp(&m[b].influenced), cmp.Compare(a, b))
	})
	omitted := int32(max(0, len(names)-v1alpha1.MaxDealGroups))
	names = names[:min(len(names), v1alpha1.MaxDealGroups)]
	slices.Sort(names)
	var out []v1alpha1.DealRevenue
	for _, name := range names {
		r := m[name]
		out = append(out, v1alpha1.DealRevenue{Name: name, WonDeals: r.won, Sourced: decimal.Format(&r.sourced), Influenced: decimal.Format(&r.influenced)})
	}
	return out, omitted
}

// percent is n of total in percent, rounded down; nil when total is zero.
func percent(n, total int32) *int32 {
	if total == 0 {
		return nil
	}
	p := int32(int64(n) * 100 / int64(total))
	return &p
}

// NearestRank is the p-th percentile of sorted (ascending, not empty) by the
// nearest-rank method: the smallest value with at least p percent of the
// values at or below it.
func NearestRank(sorted []int64, p int) int64 {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

// firstRevenue is the median time from joining to the first won deal over the
// partners in firstWon; nil when it is empty.
func firstRevenue(members map[partnerKey]*v1alpha1.Partner, firstWon map[partnerKey]time.Time) *v1alpha1.FirstRevenue {
	if len(firstWon) == 0 {
		return nil
	}
	waits := make([]int64, 0, len(firstWon))
	for key, won := range firstWon {
		waits = append(waits, int64(won.Sub(JoinedAt(members[key]))/time.Second))
	}
	return &v1alpha1.FirstRevenue{Partners: int32(len(waits)), MedianDays: MedianDays(waits)}
}

// JoinedAt is when partner p joined its program: spec.joinedAt, or its
// creationTimestamp when that is unset (a partner created before the field existed).
func JoinedAt(p *v1alpha1.Partner) time.Time {
	if p.Spec.JoinedAt != nil {
		return p.Spec.JoinedAt.Time
	}
	return p.CreationTimestamp.Time
}

// MedianDays is the median of waits (in seconds; negative ones count as zero),
// in days rounded to one fractional digit: the middle value, or the mean of
// the two middle values of an even number. waits must not be empty.
func MedianDays(waits []int64) v1alpha1.Decimal {
	w := make([]int64, len(waits))
	for i, s := range waits {
		w[i] = max(0, s)
	}
	slices.Sort(w)
	n := len(w)
	median := new(big.Rat).SetInt64(w[n/2])
	if n%2 == 0 {
		median.SetFrac64(w[n/2-1]+w[n/2], 2)
	}
	days := median.Quo(median, big.NewRat(int64(24*time.Hour/time.Second), 1))
	d, _ := decimal.Parse(v1alpha1.Decimal(days.FloatString(1)))
	return decimal.Format(d)
}

// PartnerRevenue is one partner's won revenue in one currency: the by-partner
// figures the program's status leaves out to stay bounded.
type PartnerRevenue struct {
	Namespace, Name string
	// Tier is the partner's current tier, "None" without one.
	Tier     string
	Currency string
	// WonDeals counts the won deals it sourced in the currency.
	WonDeals int32
	// Sourced is the revenue it sourced; Influenced the revenue of the
	// program's won deals it influenced. They are never added together.
	Sourced, Influenced v1alpha1.Decimal
	// FirstRevenueDays is the time from joining to its first won deal (in any
	// currency), as in FirstRevenue.medianDays; "" when it sourced none.
	FirstRevenueDays v1alpha1.Decimal
}

// TopPartners returns, per currency, the n partners of program with the most
// sourced revenue in it (then the most influenced, then by namespace and
// name), from the won registrations of the program's partners as Deals counts
// them. Influenced revenue is the amount of each such deal crediting the
// partner as influencing. Currencies are sorted by code; n <= 0 lists every partner.
func TopPartners(program *v1alpha1.PartnerProgram, partners []v1alpha1.Partner, deals []v1alpha1.DealRegistration, n int) []PartnerRevenue {
	if program == nil {
		return nil
	}
	members := membersOf(program, partners)
	type key struct {
		partner  partnerKey
		currency string
	}
	totals := map[key]*revenue{}
	add := func(k key) *revenue {
		if totals[k] == nil {
			totals[k] = &revenue{}
		}
		return totals[k]
	}
	firstWon := map[partnerKey]time.Time{}
	for i := range deals {
		d := &deals[i]
		source := partnerKey{d.Namespace, d.Spec.Partner}
		if members[source] == nil {
			continue
		}
		amount, _, ok := wonCredit(d)
		if !ok {
			continue
		}
		v, err := decimal.Parse(amount.Amount)
		if err != nil {
			continue
		}
		r := add(key{source, amount.Currency})
		r.won++
		r.sourced.Add(&r.sourced, v)
		if first, seen := firstWon[source]; !seen || d.Status.Outcome.ClosedAt.Time.Before(first) {
			firstWon[source] = d.Status.Outcome.ClosedAt.Time
		}
		for _, c := range d.Status.Attribution.Influenced {
			by := partnerKey{c.Namespace, c.Partner}
			if members[by] == nil || by == source {
				continue
			}
			r := add(key{by, amount.Currency})
			r.influenced.Add(&r.influenced, v)
		}
	}
	keys := make([]key, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.currency, b.currency), -totals[a].sourced.Cmp(&totals[b].sourced),
			-totals[a].influenced.Cmp(&totals[b].influenced), cmp.Compare(a.partner.namespace, b.partner.namespace), cmp.Compare(a.partner.name, b.partner.name))
	})
	var out []PartnerRevenue
	listed := map[string]int{}
	for _, k := range keys {
		if n > 0 && listed[k.currency] >= n {
			continue
		}
		listed[k.currency]++
		p, r := members[k.partner], totals[k]
		row := PartnerRevenue{Namespace: k.partner.namespace, Name: k.partner.name, Tier: orUntiered(p.Status.Tier), Currency: k.currency,
			WonDeals: r.won, Sourced: decimal.Format(&r.sourced), Influenced: decimal.Format(&r.influenced)}
		if won, ok := firstWon[k.partner]; ok {
			row.FirstRevenueDays = MedianDays([]int64{int64(won.Sub(JoinedAt(p)) / time.Second)})
		}
		out = append(out, row)
	}
	return out
}
