package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/scorecard"
)

// topPartners reads the partners and deal registrations of every namespace and
// returns the n partners of program with the most sourced revenue per currency.
func topPartners(ctx context.Context, c client.Client, program *v1alpha1.PartnerProgram, n int) ([]scorecard.PartnerRevenue, error) {
	var partners v1alpha1.PartnerList
	if err := c.List(ctx, &partners); err != nil {
		return nil, fmt.Errorf("listing partners: %w", err)
	}
	var deals v1alpha1.DealRegistrationList
	if err := c.List(ctx, &deals); err != nil {
		return nil, fmt.Errorf("listing deal registrations: %w", err)
	}
	return scorecard.TopPartners(program, partners.Items, deals.Items, n), nil
}

// dealFact is one labelled figure of the deals section.
type dealFact struct{ Label, Value string }

// dealFacts are the deal figures that are not tables, worded for people.
func dealFacts(d *v1alpha1.DealFigures) []dealFact {
	var phases []string
	for _, c := range d.ByPhase {
		phases = append(phases, fmt.Sprintf("%s %d", c.Name, c.Count))
	}
	registrations := fmt.Sprint(d.Registrations)
	if len(phases) > 0 {
		registrations += " (" + strings.Join(phases, ", ") + ")"
	}
	rate := func(p *int32, of string) string {
		if p == nil {
			return none + " (no " + of + " yet)"
		}
		return fmt.Sprintf("%d%% of %s", *p, of)
	}
	approval := none + " (none approved in the last 90 days)"
	if a := d.Approval; a != nil {
		approval = fmt.Sprintf("p50 %s, p95 %s (%d registrations)", seconds(a.P50Seconds), seconds(a.P95Seconds), a.Registrations)
	}
	first := none + " (no partner has sourced a won deal yet)"
	if f := d.TimeToFirstRevenue; f != nil {
		first = fmt.Sprintf("median %s days after joining (%d partners)", f.MedianDays, f.Partners)
	}
	return []dealFact{
		{"Registrations", registrations},
		{"Conflict rate", rate(d.ConflictRatePercent, "decided registrations")},
		{"Expiry rate", rate(d.ExpiryRatePercent, "approved registrations that ended")},
		{"Approval time (last 90 days)", approval},
		{"Time to first revenue", first},
	}
}

// seconds prints a whole number of seconds as a short duration, such as "3h".
func seconds(s int64) string {
	if s <= 0 {
		return "0s"
	}
	return duration.HumanDuration(time.Duration(s) * time.Second)
}

// ropi prints a return on partner investment, "-" without committed funds.
func ropi(c v1alpha1.DealCurrency) string {
	if c.ReturnOnInvestment == "" {
		return none + " (no funds)"
	}
	return string(c.ReturnOnInvestment)
}

// dealGroup is a tier or segment row of one currency.
type dealGroup struct {
	Currency string
	v1alpha1.DealRevenue
}

// dealGroups flattens the tiers or segments of every currency, and says how
// many the scorecard left out at its bound.
func dealGroups(d *v1alpha1.DealFigures, segments bool) ([]dealGroup, int32) {
	var out []dealGroup
	var omitted int32
	for _, c := range d.Currencies {
		rows, left := c.ByTier, c.OmittedTiers
		if segments {
			rows, left = c.BySegment, c.OmittedSegments
		}
		for _, r := range rows {
			out = append(out, dealGroup{Currency: c.Currency, DealRevenue: r})
		}
		omitted += left
	}
	return out, omitted
}

// writeDealsTable prints the Deals section of the scorecard, and the top
// partners when topN > 0.
func writeDealsTable(w io.Writer, d *v1alpha1.DealFigures, top []scorecard.PartnerRevenue, topN int) error {
	fmt.Fprintf(w, "\nDeals:\n")
	if d == nil {
		fmt.Fprintf(w, "  none: no deal registrations or approved funds yet\n")
	} else {
		head := newTable(w)
		for _, f := range dealFacts(d) {
			fmt.Fprintf(head, "  %s:\t%s\n", f.Label, f.Value)
		}
		if err := head.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "\n  Won revenue and committed funds (sourced and influenced are never added):\n")
		if len(d.Currencies) == 0 {
			fmt.Fprintf(w, "    none\n")
		} else {
			tw := newTable(w)
			fmt.Fprintf(tw, "    CURRENCY\tWON\tSOURCED\tINFLUENCED\tCOMMITTED FUNDS\tROPI\n")
			for _, c := range d.Currencies {
				fmt.Fprintf(tw, "    %s\t%d\t%s\t%s\t%s\t%s\n", c.Currency, c.WonDeals, c.Sourced, c.Influenced, c.CommittedFunds, ropi(c))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if d.OmittedCurrencies > 0 {
			fmt.Fprintf(w, "    (%d more currencies not listed)\n", d.OmittedCurrencies)
		}
		for _, g := range []struct {
			title, column string
			segments      bool
		}{{"Won revenue by tier of the sourcing partner", "TIER", false}, {"Won revenue by customer segment", "SEGMENT", true}} {
			rows, omitted := dealGroups(d, g.segments)
			fmt.Fprintf(w, "\n  %s:\n", g.title)
			if len(rows) == 0 {
				fmt.Fprintf(w, "    none\n")
				continue
			}
			tw := newTable(w)
			fmt.Fprintf(tw, "    CURRENCY\t%s\tWON\tSOURCED\tINFLUENCED\n", g.column)
			for _, r := range rows {
				fmt.Fprintf(tw, "    %s\t%s\t%d\t%s\t%s\n", r.Currency, r.Name, r.WonDeals, r.Sourced, r.Influenced)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if omitted > 0 {
				fmt.Fprintf(w, "    (%d more not listed: the scorecard keeps the largest %d per currency)\n", omitted, v1alpha1.MaxDealGroups)
			}
		}
	}
	if topN <= 0 {
		return nil
	}
	fmt.Fprintf(w, "\nTop partners by sourced revenue (%d per currency):\n", topN)
	return writeTopPartners(w, top, "  ")
}

// writeTopPartners prints the by-partner revenue rows.
func writeTopPartners(w io.Writer, top []scorecard.PartnerRevenue, indent string) error {
	if len(top) == 0 {
		fmt.Fprintf(w, "%snone\n", indent)
		return nil
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "%sCURRENCY\tPARTNER\tTIER\tWON\tSOURCED\tINFLUENCED\tFIRST REVENUE\n", indent)
	for _, p := range top {
		fmt.Fprintf(tw, "%s%s\t%s/%s\t%s\t%d\t%s\t%s\t%s\n", indent, p.Currency, p.Namespace, p.Name, p.Tier, p.WonDeals, p.Sourced, p.Influenced, firstRevenue(p))
	}
	return tw.Flush()
}

// firstRevenue prints how long a partner took to its first won deal.
func firstRevenue(p scorecard.PartnerRevenue) string {
	if p.FirstRevenueDays == "" {
		return none
	}
	return string(p.FirstRevenueDays) + " days after joining"
}
