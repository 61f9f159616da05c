package plugin

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/scorecard"
	"github.com/partnergov/partnergov/internal/tier"
)

func reportCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var file, partner string
	cmd := &cobra.Command{
		Use:   "report --html FILE [PROGRAM] | report --partner NAME [-n NAMESPACE] --html FILE",
		Short: "Write a program's scorecard with tier, evidence-freshness, exception-ageing and deal charts, or one partner's standing, as one self-contained HTML page",
		Long: `Write one self-contained HTML page (inline CSS and SVG, no scripts, no external
resources) with the program's scorecard and four charts: partners by tier (from
status.scorecard; every tier of the program, lowest rank first, empty tiers
included), the freshness of the program's evidence entries (fresh, going stale
within 7 days, stale; from the partners' status and the catalog's freshness
windows), the pending exception requests by age and the deal registrations by
phase, and the partners by lifecycle phase with the onboarding funnel (how
many partners met each onboarding step). The decisions of the last 30 days are counted twice, each labelled: review
decisions (reviewers' stage decisions, from the scorecard) and tier decisions
(the TierChange DecisionRecords of the program's partners). Its deals section
shows won revenue by tier and segment per currency, committed funds and return on
partner investment, conflict and expiry rates, approval time, time to first
revenue, and the top partners by sourced revenue (from the live deal
registrations). PROGRAM may be omitted when there is only one program; FILE "-"
writes to standard output.

With --partner NAME the page is one partner's standing instead, made to be handed
to the partner (it shows only the partner's own objects and the program's rules):
its tier and since when, what the next tier needs and what is missing (as
explain partner checks it), its evidence and whether each entry is fresh, going
stale, stale or not counted, its entitlements and where each comes from (its tier
or an approved request), its exception requests under review and its published
listings. It needs get on partners and partnerprograms and list on partnertiers,
and on exceptionrequests and listings in the partner's namespace.`,
		Example: `  kubectl partnergov report --html report.html global
  kubectl partnergov report --partner acme-consulting -n partners --html acme-consulting.html`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("--html FILE is required")
			}
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			write := func(page []byte, what string) error {
				if file == "-" {
					_, err := streams.Out.Write(page)
					return err
				}
				if err := os.WriteFile(file, page, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(streams.Out, "wrote %s to %s\n", what, file)
				return nil
			}
			if partner != "" {
				if len(args) > 0 {
					return fmt.Errorf("--partner takes no PROGRAM argument: the page is of the partner's own program (spec.program)")
				}
				key := types.NamespacedName{Namespace: ns, Name: partner}
				data, err := gatherPartnerPage(cmd.Context(), c, key, time.Now())
				if err != nil {
					return err
				}
				page, err := RenderPartnerPage(data)
				if err != nil {
					return err
				}
				return write(page, fmt.Sprintf("the standing of Partner %s", key))
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			program, err := getProgram(cmd, c, name)
			if err != nil {
				return err
			}
			data, err := gatherReport(cmd.Context(), c, program, time.Now())
			if err != nil {
				return err
			}
			page, err := RenderReport(data)
			if err != nil {
				return err
			}
			return write(page, "the report of PartnerProgram "+program.Name)
		},
	}
	cmd.Flags().StringVar(&file, "html", "", `the HTML file to write ("-" for standard output; required)`)
	cmd.Flags().StringVar(&partner, "partner", "", "write the standing of this partner (in the namespace of -n) instead of the program's report")
	return cmd
}

// recordPageSize is how many decision records the report reads per request.
const recordPageSize = 500

// reportTopPartners is how many partners per currency the report lists by sourced revenue.
const reportTopPartners = 10

// gatherReport reads the live partners, tiers, exception requests, deal
// registrations and tier-change records of program.
func gatherReport(ctx context.Context, c client.Client, program *v1alpha1.PartnerProgram, now time.Time) (ReportData, error) {
	var tiers v1alpha1.PartnerTierList
	if err := c.List(ctx, &tiers); err != nil {
		return ReportData{}, fmt.Errorf("listing partner tiers: %w", err)
	}
	// Records are kept for years: read them a page at a time and keep the
	// program's only.
	var records []recordsv1alpha1.DecisionRecord
	for cont := ""; ; {
		var page recordsv1alpha1.DecisionRecordList
		if err := c.List(ctx, &page, client.MatchingLabels{record.LabelType: string(recordsv1alpha1.DecisionTierChange)},
			client.Limit(recordPageSize), client.Continue(cont)); err != nil {
			return ReportData{}, fmt.Errorf("listing the tier decision records: %w", err)
		}
		for _, r := range page.Items {
			if r.Spec.Program == program.Name {
				records = append(records, r)
			}
		}
		if cont = page.Continue; cont == "" {
			break
		}
	}
	var partners v1alpha1.PartnerList
	if err := c.List(ctx, &partners); err != nil {
		return ReportData{}, fmt.Errorf("listing partners: %w", err)
	}
	var requests v1alpha1.ExceptionRequestList
	if err := c.List(ctx, &requests); err != nil {
		return ReportData{}, fmt.Errorf("listing exception requests: %w", err)
	}
	var deals v1alpha1.DealRegistrationList
	if err := c.List(ctx, &deals); err != nil {
		return ReportData{}, fmt.Errorf("listing deal registrations: %w", err)
	}
	var plans v1alpha1.JointBusinessPlanList
	if err := c.List(ctx, &plans); err != nil && !apierrors.IsForbidden(err) {
		return ReportData{}, fmt.Errorf("listing joint business plans: %w", err)
	}
	var counted []v1alpha1.Count
	if sc := program.Status.Scorecard; sc != nil {
		counted = sc.PartnersByTier
	}
	return ReportData{
		Program:       program.Name,
		GeneratedAt:   now,
		Scorecard:     program.Status.Scorecard,
		Tiers:         tiersByRank(program.Name, tiers.Items, counted),
		TierDecisions: tierDecisions(program.Name, records, now),
		Freshness:     evidenceFreshness(program, partners.Items, now),
		ExceptionAges: exceptionAgeing(program, partners.Items, requests.Items, now),
		Plans:         planAttainment(program, partners.Items, plans.Items),
		TopPartners:   scorecard.TopPartners(program, partners.Items, deals.Items, reportTopPartners),
		Phases:        partnersByPhase(program.Name, partners.Items),
		Onboarding:    onboardingFunnel(program, partners.Items),
	}, nil
}

// tiersByRank returns the partner counts of the scorecard (counted, by tier name)
// for every tier of program, lowest rank first (ties by name), with zero for a
// tier nobody holds. Untiered partners (scorecard.Untiered) come first, below
// rank 0, when there are any; a counted tier that no longer exists comes last
// (by name), without a rank.
func tiersByRank(program string, tiers []v1alpha1.PartnerTier, counted []v1alpha1.Count) []TierCount {
	counts := make(map[string]int, len(counted))
	for _, c := range counted {
		counts[c.Name] += int(c.Count)
	}
	var ladder []v1alpha1.PartnerTier
	for _, t := range tiers {
		if t.Spec.Program == program {
			ladder = append(ladder, t)
		}
	}
	slices.SortFunc(ladder, func(a, b v1alpha1.PartnerTier) int {
		return cmp.Or(cmp.Compare(a.Spec.Rank, b.Spec.Rank), cmp.Compare(a.Name, b.Name))
	})
	var out []TierCount
	shown := map[string]bool{}
	if n := counts[scorecard.Untiered]; n > 0 && !slices.ContainsFunc(ladder, func(t v1alpha1.PartnerTier) bool { return t.Name == scorecard.Untiered }) {
		out = append(out, TierCount{Name: scorecard.Untiered, Count: n})
		shown[scorecard.Untiered] = true
	}
	for _, t := range ladder {
		rank := t.Spec.Rank
		out = append(out, TierCount{Name: t.Name, Rank: &rank, Retired: t.Spec.Retired, Count: counts[t.Name]})
		shown[t.Name] = true
	}
	var gone []TierCount
	for name, n := range counts {
		if !shown[name] && n > 0 {
			gone = append(gone, TierCount{Name: name, Count: n})
		}
	}
	slices.SortFunc(gone, func(a, b TierCount) int { return cmp.Compare(a.Name, b.Name) })
	return append(out, gone...)
}

// tierDecisions counts the tier changes of program's partners recorded in
// records (type TierChange, spec.program the program) with a time in
// (now-scorecard.Window, now], the window of the scorecard's review decisions.
func tierDecisions(program string, records []recordsv1alpha1.DecisionRecord, now time.Time) int {
	since := now.Add(-scorecard.Window)
	n := 0
	for _, r := range records {
		if r.Spec.Type == recordsv1alpha1.DecisionTierChange && r.Spec.Program == program &&
			r.Spec.Time.After(since) && !r.Spec.Time.After(now) {
			n++
		}
	}
	return n
}

// evidenceFreshness counts the evidence entries of program's partners by their
// metric's freshness window (tier.StaleAt): stale at or after StaleAt, going
// stale when StaleAt is at most seven days away, fresh otherwise. Entries of
// metrics the catalog does not define are not counted.
func evidenceFreshness(program *v1alpha1.PartnerProgram, partners []v1alpha1.Partner, now time.Time) Freshness {
	catalog := make(map[string]v1alpha1.MetricDefinition, len(program.Spec.Metrics))
	for _, m := range program.Spec.Metrics {
		catalog[m.Name] = m
	}
	var f Freshness
	for _, p := range partners {
		if p.Spec.Program != program.Name {
			continue
		}
		for _, e := range p.Status.Evidence {
			def, ok := catalog[e.Metric]
			if !ok {
				continue
			}
			switch staleAt := tier.StaleAt(def, e.ObservedAt.Time); {
			case !now.Before(staleAt):
				f.Stale++
			case staleAt.Sub(now) <= goingStaleWithin:
				f.GoingStale++
			default:
				f.Fresh++
			}
		}
	}
	return f
}

// reportAgeBuckets are the age ranges of pending requests, as in the
// partnergov_requests_pending metric: each holds ages below its bound.
var reportAgeBuckets = []struct {
	label string
	below time.Duration
}{{"<1d", 24 * time.Hour}, {"1-3d", 72 * time.Hour}, {"3-7d", 7 * 24 * time.Hour}, {">7d", 1<<63 - 1}}

// exceptionAgeing counts the pending requests (phase Pending or not yet set) for
// partners of program by their age at now.
func exceptionAgeing(program *v1alpha1.PartnerProgram, partners []v1alpha1.Partner, requests []v1alpha1.ExceptionRequest, now time.Time) []AgeBucket {
	type key struct{ namespace, name string }
	members := map[key]bool{}
	for _, p := range partners {
		if p.Spec.Program == program.Name {
			members[key{p.Namespace, p.Name}] = true
		}
	}
	out := make([]AgeBucket, len(reportAgeBuckets))
	for i, b := range reportAgeBuckets {
		out[i].Label = b.label
	}
	for _, r := range requests {
		if !members[key{r.Namespace, r.Spec.Partner}] {
			continue
		}
		if r.Status.Phase != "" && r.Status.Phase != v1alpha1.PhasePending {
			continue
		}
		age := now.Sub(r.CreationTimestamp.Time)
		for i, b := range reportAgeBuckets {
			if age < b.below {
				out[i].Count++
				break
			}
		}
	}
	return out
}
