package plugin

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// progressRows is the size of a file above which import shows a progress bar
// (on a terminal only).
const progressRows = 200

func evidenceCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Report evidence into partners' status as the user running it",
	}
	cmd.AddCommand(evidenceImportCommand(flags, streams))
	return cmd
}

func evidenceImportCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var file, fieldManager, dryRun string
	var force bool
	cmd := &cobra.Command{
		Use:   "import -f FILE --field-manager NAME [--dry-run] [--force-conflicts]",
		Short: "Apply evidence from a CSV file a CRM or LMS exports (partner, metric, value, observedAt) to each partner's status",
		Long: `import server-side-applies evidence entries to Partners' status as the user running it, with field
manager --field-manager, as an integration reports evidence (see docs/integrations.md, "Reporting evidence from
an integration"): the webhook stamps each entry with your identity and refuses metrics the program's catalog
does not trust you for.

-f FILE (- for standard input) is a CSV file: a header row naming the columns partner, metric, value and
observedAt, and optionally namespace (else -n; case, spaces, dashes and underscores do not matter), then
one evidence entry per row. A value is a decimal number (thousands separators allowed, no unit);
observedAt a date (2026-11-30, midnight UTC) or an RFC 3339 time. Blank rows are skipped.

The rows of one partner are sent as one apply, partners in namespace and name order. A Partner holds one
entry per metric: of several rows of one partner and metric the one observed last is applied and the
others are superseded (rows observed at the same time with different values are refused). An apply
keeps the entries the field manager reported on the partner before and the file lacks, as stored, so an
import adds and updates evidence and never removes any.

A wrong cell refuses its row, named by row and column, and the other rows are applied; a partner the
server refuses (it does not exist, a metric you are not trusted for, an entry another field manager
owns) refuses every row of that partner, with the server's reason, and the other partners are applied.
A summary follows: rows applied, partners updated, rows superseded and refused; the command fails when
any row was refused. On a terminal, a file of more than 200 rows shows a progress bar.`,
		Example: `  kubectl partnergov evidence import -f crm-export.csv -n partners --field-manager crm-export
  kubectl partnergov evidence import -f - --field-manager lms-export --dry-run < lms-export.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch dryRun {
			case "", "none", "server":
			case "client":
				return fmt.Errorf("--dry-run=client is not offered: the API server and partnergov's webhooks decide what is valid; use --dry-run (server)")
			default:
				return fmt.Errorf("--dry-run=%s: the value is server or none", dryRun)
			}
			if file == "" {
				return fmt.Errorf("-f FILE is required: the CSV to import (- for standard input)")
			}
			if fieldManager == "" {
				return fmt.Errorf("--field-manager is required: the name your evidence entries are owned by, such as crm-export (each integration its own)")
			}
			_, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			var r io.Reader = streams.In
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			parsed, err := ParseEvidenceCSV(r, ns, time.Now())
			if err != nil {
				var rerrs RowErrors
				if errors.As(err, &rerrs) {
					return fmt.Errorf("nothing imported: the CSV header is wrong:\n%w", err)
				}
				return err
			}
			plan := PlanEvidence(parsed.Rows)
			c, err := newBatchClient(flags, streams.ErrOut)
			if err != nil {
				return err
			}
			o := ImportOptions{FieldManager: fieldManager, DryRun: dryRun == "server", Force: force}
			bar := newProgress(streams.ErrOut, parsed.Total, plan)
			if bar != nil {
				o.Progress = func(rows int) { _ = bar.Add(rows) }
			}
			results := ImportEvidence(cmd.Context(), c, plan.Partners, o)
			if bar != nil {
				_ = bar.Finish()
			}
			return writeImported(streams.Out, streams.ErrOut, parsed, plan, results, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&file, "filename", "f", "", "the CSV file to import (- for standard input)")
	fl.StringVar(&fieldManager, "field-manager", "", "the field manager that owns the applied entries, such as crm-export (required)")
	fl.StringVar(&dryRun, "dry-run", "none", "server: send every apply through admission without writing it")
	fl.Lookup("dry-run").NoOptDefVal = "server"
	fl.BoolVar(&force, "force-conflicts", false, "take over entries another field manager owns (server-side apply's force)")
	return cmd
}

// showProgress says whether to draw a progress bar: on a terminal, for more than progressRows rows.
func showProgress(terminal bool, rows int) bool { return terminal && rows > progressRows }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress is a progress bar on errOut over the rows plan applies, or nil
// when none is shown (not a terminal, or a file of at most progressRows rows):
// tests and pipes stay clean.
func newProgress(errOut io.Writer, fileRows int, plan EvidencePlan) *progressbar.ProgressBar {
	if !showProgress(isTerminal(errOut), fileRows) {
		return nil
	}
	rows := 0
	for _, p := range plan.Partners {
		rows += len(p.Rows)
	}
	return progressbar.NewOptions(rows,
		progressbar.OptionSetWriter(errOut),
		progressbar.OptionSetDescription(fmt.Sprintf("applying %d partners", len(plan.Partners))),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// PartnerRefusal is a partner's apply the server refused, with every row it held.
type PartnerRefusal struct {
	Rows               []int
	Namespace, Partner string
	Err                error
}

func (e PartnerRefusal) Error() string {
	return fmt.Sprintf("%s (Partner %s/%s): %v", rowList(e.Rows), e.Namespace, e.Partner, e.Err)
}

func (e PartnerRefusal) Unwrap() error { return e.Err }

// rowList is "row 4" or "rows 2, 7, 9".
func rowList(rows []int) string {
	if len(rows) == 1 {
		return fmt.Sprintf("row %d", rows[0])
	}
	s := make([]string, len(rows))
	for i, r := range rows {
		s[i] = fmt.Sprint(r)
	}
	return "rows " + strings.Join(s, ", ")
}

// ImportRefusals are the rows refused, locally by row and column or by the
// server by partner, in row order.
type ImportRefusals []error

func (e ImportRefusals) Error() string {
	lines := make([]string, len(e))
	for i, r := range e {
		lines[i] = r.Error()
	}
	return strings.Join(lines, "\n")
}

// writeImported prints the API server's warnings to errOut and the summary to
// w, and returns the refused rows as an error: each row refused locally with
// its column, each partner the server refused with its rows and the reason.
func writeImported(w, errOut io.Writer, file *EvidenceFile, plan EvidencePlan, results []PartnerImported, o ImportOptions) error {
	var refused ImportRefusals
	rowsRefused := map[int]bool{}
	for _, e := range slices.Concat(file.Refused, plan.Refused) {
		refused = append(refused, e)
		rowsRefused[e.Row] = true
	}
	applied, partners := 0, 0
	for _, r := range results {
		rows := slices.Sorted(slices.Values(r.Rows))
		where := fmt.Sprintf("%s (Partner %s/%s)", rowList(rows), r.Namespace, r.Partner)
		if r.Err != nil {
			refused = append(refused, PartnerRefusal{Rows: rows, Namespace: r.Namespace, Partner: r.Partner, Err: r.Err})
			for _, row := range r.Rows {
				rowsRefused[row] = true
			}
			continue
		}
		for _, text := range r.Warnings {
			fmt.Fprintf(errOut, "Warning: %s: %s\n", where, text)
		}
		applied += len(r.Rows)
		partners++
	}
	first := func(e error) int {
		var re RowError
		var pr PartnerRefusal
		switch {
		case errors.As(e, &re):
			return re.Row
		case errors.As(e, &pr):
			return pr.Rows[0]
		}
		return 0
	}
	slices.SortStableFunc(refused, func(a, b error) int { return cmp.Compare(first(a), first(b)) })

	summary, would := "Summary", ""
	if o.DryRun {
		summary, would = "Summary (server dry run, nothing written)", " would be"
	}
	fmt.Fprintf(w, "%s: %s%s applied, %s%s updated, %s refused, %s superseded by a later observation (%s read, field manager %s)\n",
		summary, plural(applied, "row", "rows"), would, plural(partners, "partner", "partners"), would, plural(len(rowsRefused), "row", "rows"),
		plural(len(plan.Superseded), "row", "rows"), plural(file.Total, "row", "rows"), o.FieldManager)
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %s refused:\n%w", len(rowsRefused), plural(file.Total, "row", "rows"), refused)
}
