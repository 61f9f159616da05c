package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/scorecard"
)

// Output formats of the scorecard command.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

func scorecardCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	var top int
	cmd := &cobra.Command{
		Use:   "scorecard [PROGRAM] [-o table|json|yaml] [--top N]",
		Short: "Print a partner program's scorecard (PROGRAM may be omitted when there is only one program)",
		Example: `  kubectl partnergov scorecard global
  kubectl partnergov scorecard global --top 5
  kubectl partnergov scorecard -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validOutput(output); err != nil {
				return err
			}
			if top > 0 && output != outputTable {
				return fmt.Errorf("--top prints a table: the top partners are not part of status.scorecard, which -o %s prints", output)
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
			var partners []scorecard.PartnerRevenue
			if top > 0 {
				if partners, err = topPartners(cmd.Context(), c, program, top); err != nil {
					return err
				}
			}
			return writeScorecard(streams.Out, streams.ErrOut, program.Name, program.Status.Scorecard, output, time.Now(), partners, top)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outputTable, "output format: table, json or yaml")
	cmd.Flags().IntVar(&top, "top", 0, "also list the N partners with the most sourced revenue per currency, from the live deal registrations (needs list on partners and dealregistrations; table output only)")
	return cmd
}

func validOutput(output string) error {
	switch output {
	case outputTable, outputJSON, outputYAML:
		return nil
	}
	return fmt.Errorf("unknown output format %q: use table, json or yaml", output)
}

// getProgram reads the named program, or the only one when name is empty.
func getProgram(cmd *cobra.Command, c client.Client, name string) (*v1alpha1.PartnerProgram, error) {
	if name != "" {
		var p v1alpha1.PartnerProgram
		if err := c.Get(cmd.Context(), types.NamespacedName{Name: name}, &p); err != nil {
			return nil, err
		}
		return &p, nil
	}
	var list v1alpha1.PartnerProgramList
	if err := c.List(cmd.Context(), &list); err != nil {
		return nil, err
	}
	switch len(list.Items) {
	case 0:
		return nil, fmt.Errorf("there is no PartnerProgram")
	case 1:
		return &list.Items[0], nil
	}
	names := make([]string, 0, len(list.Items))
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("there are %d PartnerPrograms; name one: %s", len(names), strings.Join(names, ", "))
}

// emptyScorecard reports whether the controller has not filled the scorecard.
func emptyScorecard(sc *v1alpha1.Scorecard) bool {
	return sc == nil || reflect.DeepEqual(*sc, v1alpha1.Scorecard{})
}

// writeScorecard prints program's scorecard as a table, JSON or YAML. An empty
// scorecard is said to be empty: on out as a table, and on errOut for JSON and
// YAML, whose output on out stays parseable ({}). The table ends with the top
// partners when topN > 0.
func writeScorecard(out, errOut io.Writer, program string, sc *v1alpha1.Scorecard, output string, now time.Time,
	top []scorecard.PartnerRevenue, topN int) error {
	if err := validOutput(output); err != nil {
		return err
	}
	empty := emptyScorecard(sc)
	msg := fmt.Sprintf("PartnerProgram %s has no scorecard yet: the controller has not computed status.scorecard\n", program)
	if empty && output == outputTable {
		_, err := io.WriteString(out, msg)
		return err
	}
	if empty {
		fmt.Fprint(errOut, msg)
		sc = &v1alpha1.Scorecard{}
	}
	switch output {
	case outputJSON:
		b, err := json.MarshalIndent(sc, "", "  ")
		if err != nil {
			return err
		}
		_, err = out.Write(append(b, '\n'))
		return err
	case outputYAML:
		b, err := yaml.Marshal(sc)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	if err := writeScorecardTable(out, program, sc, now); err != nil {
		return err
	}
	return writeDealsTable(out, sc.Deals, top, topN)
}

// writeScorecardTable prints a scorecard as aligned text, without its deals.
func writeScorecardTable(w io.Writer, program string, sc *v1alpha1.Scorecard, now time.Time) error {
	head := newTable(w)
	fmt.Fprintf(head, "Program:\t%s\n", program)
	fmt.Fprintf(head, "Updated:\t%s\n", timestamp(sc.UpdatedAt, now))
	outcome := none
	if sc.OutcomeBackedPercent != nil {
		outcome = fmt.Sprintf("%d%% of tiered partners", *sc.OutcomeBackedPercent)
	}
	fmt.Fprintf(head, "Tier backed by current outcomes:\t%s\n", outcome)
	fmt.Fprintf(head, "SLA breaches:\t%d\n", sc.SLABreaches)
	fmt.Fprintf(head, "Review decisions (last 30 days):\t%d\n", sc.DecisionsLast30Days)
	fmt.Fprintf(head, "Listings:\t%d published, %d unpublished, %d low adoption\n",
		sc.ListingsPublished, sc.ListingsUnpublished, sc.ListingsLowAdoption)
	if err := head.Flush(); err != nil {
		return err
	}
	for _, section := range []struct {
		title, column string
		counts        []v1alpha1.Count
	}{
		{"Partners by tier", "TIER", sc.PartnersByTier},
		{"Partners by type", "TYPE", sc.PartnersByType},
		{"Open requests by type", "TYPE", sc.OpenRequestsByType},
	} {
		fmt.Fprintf(w, "\n%s:\n", section.title)
		if len(section.counts) == 0 {
			fmt.Fprintf(w, "  none\n")
			continue
		}
		tw := newTable(w)
		fmt.Fprintf(tw, "  %s\tCOUNT\n", section.column)
		for _, c := range section.counts {
			fmt.Fprintf(tw, "  %s\t%d\n", orNone(c.Name), c.Count)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nOutcome metrics across partners (current evidence):\n")
	if len(sc.OutcomeTotals) == 0 {
		fmt.Fprintf(w, "  none\n")
		return nil
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "  METRIC\tAGGREGATION\tVALUE\tUNIT\tPARTNERS\n")
	for _, t := range sc.OutcomeTotals {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\n", t.Metric, aggregation(t), t.Total, orNone(t.Unit), t.Partners)
	}
	return tw.Flush()
}

// aggregation names how a scorecard total was computed. Scorecards written before
// the aggregation was recorded always summed.
func aggregation(t v1alpha1.MetricTotal) string {
	if t.Aggregation == "" {
		return string(v1alpha1.MetricAggregationSum)
	}
	return string(t.Aggregation)
}
