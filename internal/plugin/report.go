package plugin

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/scorecard"
	"github.com/partnergov/partnergov/internal/tier"
)

func reportCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "report --html FILE [PROGRAM]",
		Short: "Write a program's scorecard with tier, evidence-freshness, exception-ageing and deal charts as one self-contained HTML page",
		Long: `Write one self-contained HTML page (inline CSS and SVG, no scripts, no external
resources) with the program's scorecard and four charts: partners by tier (from
status.scorecard), the freshness of the program's evidence entries (fresh, going
stale within 7 days, stale; from the partners' status and the catalog's freshness
windows), the pending exception requests by age and the deal registrations by
phase. Its deals section shows won revenue by tier and segment per currency,
committed funds and return on partner investment, conflict and expiry rates,
approval time, time to first revenue, and the top partners by sourced revenue
(from the live deal registrations). PROGRAM may be omitted when there is only
one program; FILE "-" writes to standard output.`,
		Example: `  kubectl partnergov report --html report.html global`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("--html FILE is required")
			}
			c, _, err := newClient(flags)
			if err != nil {
				return err
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
			if file == "-" {
				_, err = streams.Out.Write(page)
				return err
			}
			if err := os.WriteFile(file, page, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "wrote the report of PartnerProgram %s to %s\n", program.Name, file)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "html", "", `the HTML file to write ("-" for standard output; required)`)
	return cmd
}

// reportTopPartners is how many partners per currency the report lists by sourced revenue.
const reportTopPartners = 10

// gatherReport reads the live partners, exception requests and deal
// registrations of program.
func gatherReport(ctx context.Context, c client.Client, program *v1alpha1.PartnerProgram, now time.Time) (ReportData, error) {
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
	return ReportData{
		Program:       program.Name,
		GeneratedAt:   now,
		Scorecard:     program.Status.Scorecard,
		Freshness:     evidenceFreshness(program, partners.Items, now),
		ExceptionAges: exceptionAgeing(program, partners.Items, requests.Items, now),
		TopPartners:   scorecard.TopPartners(program, partners.Items, deals.Items, reportTopPartners),
	}, nil
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
