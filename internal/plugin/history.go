package plugin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
)

// outputWide is the table with the WHY column uncut.
const outputWide = "wide"

// whyWidth is about how many characters of a record's message the table shows
// unless it is wide.
const whyWidth = 80

func historyCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var opts HistoryOptions
	var verify bool
	var sealKeyFile string
	cmd := &cobra.Command{
		Use:   "history PARTNER [-n NAMESPACE] [--limit N] [-o table|wide|json|yaml] [--verify]",
		Short: "List a partner's decision records, newest first (also after the partner was deleted), or verify their chain",
		Example: `  kubectl partnergov history acme-consulting -n partners
  kubectl partnergov history acme-consulting -n partners --limit 10 --wide
  kubectl partnergov history acme-consulting -n partners -o yaml
  kubectl partnergov history acme-consulting -n partners --verify`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			key := types.NamespacedName{Namespace: ns, Name: args[0]}
			if sealKeyFile != "" && !verify {
				return fmt.Errorf("--seal-key-file is for --verify: it checks the head's seal")
			}
			if verify {
				var keys *seal.Keys
				if sealKeyFile != "" {
					data, err := os.ReadFile(sealKeyFile)
					if err != nil {
						return fmt.Errorf("--seal-key-file: %w", err)
					}
					if keys, err = seal.Parse(data); err != nil {
						return fmt.Errorf("--seal-key-file %s: %w", sealKeyFile, err)
					}
				}
				v, err := VerifyHistoryWith(cmd.Context(), c, key, time.Now(), keys)
				if err != nil {
					return err
				}
				return writeVerification(streams.Out, key, v)
			}
			records, err := History(cmd.Context(), c, key)
			if err != nil {
				return err
			}
			return writeHistory(streams.Out, key, records, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", outputTable, "output format: table, wide, json or yaml")
	cmd.Flags().BoolVar(&opts.Wide, "wide", false, "show each record's whole message (same as -o wide)")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "show only the N newest records (0: all)")
	cmd.Flags().BoolVar(&verify, "verify", false,
		"check the partner's whole record chain against itself and its sealed head (RecordChain) instead of listing it; exits non-zero when anything is wrong")
	cmd.Flags().StringVar(&sealKeyFile, "seal-key-file", "",
		"with --verify, also check the head's seal with the manager's seal keys (the file its --seal-key-file reads: the current key first, then previous ones); without it the head is trusted as read")
	return cmd
}

// HistoryOptions say how writeHistory renders a partner's records.
type HistoryOptions struct {
	// Output is table, wide, json or yaml.
	Output string
	// Wide shows each record's whole message in the table (as Output wide does).
	Wide bool
	// Limit keeps only the Limit newest records; 0 keeps all.
	Limit int
}

func (o HistoryOptions) validate() error {
	switch o.Output {
	case outputTable, outputWide, outputJSON, outputYAML:
	default:
		return fmt.Errorf("unknown output format %q: use table, wide, json or yaml", o.Output)
	}
	if o.Limit < 0 {
		return fmt.Errorf("--limit must be 0 (all) or more, not %d", o.Limit)
	}
	return nil
}

// historyPage is how many records History asks for at a time.
const historyPage = 500

// History lists the DecisionRecords of partner key.Name in namespace
// key.Namespace, newest first, a page at a time. It never reads the Partner:
// records outlive it.
//
// It selects by the record.LabelPartner label (which every record carries) and
// keeps the records whose spec.partner is the partner. It does not use a field
// selector on spec.partner, although the CRD declares it selectable, so that it
// works on any client, the controller-runtime fake included. A name that cannot
// be a label value (longer than 63 characters) is looked up by spec.partner alone.
func History(ctx context.Context, c client.Client, key types.NamespacedName) ([]recordsv1alpha1.DecisionRecord, error) {
	opts := []client.ListOption{client.InNamespace(key.Namespace), client.Limit(historyPage)}
	if len(validation.IsValidLabelValue(key.Name)) == 0 {
		opts = append(opts, client.MatchingLabels{record.LabelPartner: key.Name})
	}
	var out []recordsv1alpha1.DecisionRecord
	for cont := ""; ; {
		var list recordsv1alpha1.DecisionRecordList
		if err := c.List(ctx, &list, append(opts, client.Continue(cont))...); err != nil {
			return nil, fmt.Errorf("listing the decision records of partner %s: %w", key, err)
		}
		for _, r := range list.Items {
			if r.Spec.Partner == key.Name {
				out = append(out, r)
			}
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	return newestFirst(out, 0), nil
}

// verifyAttempts bounds how often VerifyHistory reads again because the
// partner was being recorded while it read.
const verifyAttempts = 5

// VerifyHistory checks every record of partner key against each other and
// against the partner's RecordChain, the chain's sealed head (record.Verify),
// at now. The head is read before and after the records; when it moved in
// between (a decision was recorded meanwhile), it reads again.
func VerifyHistory(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time) (record.Verification, error) {
	return VerifyHistoryWith(ctx, c, key, now, nil)
}

// VerifyHistoryWith is VerifyHistory that also checks the head's seal with
// keys (the manager's seal keys): a head that does not verify under them was
// written past the webhooks (record.FindingUnsealedHead). Without keys the
// head is trusted as read, and a note says so.
func VerifyHistoryWith(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time, keys *seal.Keys) (record.Verification, error) {
	for attempt := 1; ; attempt++ {
		before, err := recordChain(ctx, c, key)
		if err != nil {
			return record.Verification{}, err
		}
		records, err := History(ctx, c, key)
		if err != nil {
			return record.Verification{}, err
		}
		after, err := recordChain(ctx, c, key)
		if err != nil {
			return record.Verification{}, err
		}
		if attempt < verifyAttempts && resourceVersion(after) != resourceVersion(before) {
			continue
		}
		var head *record.Head
		if before != nil {
			head = record.HeadOfChain(before)
		}
		v := record.Verify(records, head, now)
		switch {
		case before == nil:
		case keys == nil:
			v.Notes = append(v.Notes, fmt.Sprintf("the seal of RecordChain %s/%s was not checked (give --seal-key-file the manager's seal keys to check it)", before.Namespace, before.Name))
		case !keys.Verify(before.Spec.Seal, seal.ChainHead(before.Namespace, before.Spec)...):
			v.Findings = append(v.Findings, record.Finding{Kind: record.FindingUnsealedHead, Sequence: before.Spec.Sequence, Records: []string{before.Spec.Newest.Name},
				Message: fmt.Sprintf("RecordChain %s/%s (sequence %d, newest record %s) is not sealed by the given keys: it was written past the webhooks, and what it says of the chain's end is not the controller's", before.Namespace, before.Name, before.Spec.Sequence, before.Spec.Newest.Name)})
		}
		return v, nil
	}
}

func resourceVersion(rc *v1alpha1.RecordChain) string {
	if rc == nil {
		return ""
	}
	return rc.ResourceVersion
}

// recordChain reads partner key's RecordChain; nil when it has none.
func recordChain(ctx context.Context, c client.Client, key types.NamespacedName) (*v1alpha1.RecordChain, error) {
	var rc v1alpha1.RecordChain
	err := c.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: record.ChainName(key.Name)}, &rc)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading the RecordChain of partner %s (--verify needs get on recordchains.governance.partnergov.io): %w", key, err)
	}
	return &rc, nil
}

// writeVerification prints what VerifyHistory found: a line saying the chain
// verified, or each finding naming its records; then the notes and the
// records made before chaining. Findings make it return an error (a non-zero exit).
func writeVerification(w io.Writer, key types.NamespacedName, v record.Verification) error {
	if v.Verified() {
		fmt.Fprintf(w, "chain verified: %d records, head sequence %d\n", v.Chained, v.HeadSequence)
	} else {
		fmt.Fprintf(w, "chain NOT verified: %d finding(s) over %d records, head sequence %d\n", len(v.Findings), v.Chained, v.HeadSequence)
		for _, f := range v.Findings {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if n := len(v.Unchained); n > 0 {
		fmt.Fprintf(w, "%d record(s) unchained (before chaining), not checked: %s\n", n, strings.Join(v.Unchained, ", "))
	}
	if !v.Verified() {
		return fmt.Errorf("the record chain of partner %s/%s has %d finding(s)", key.Namespace, key.Name, len(v.Findings))
	}
	return nil
}

// newestFirst returns a copy of records sorted by spec.time, newest first, then
// by name, keeping only the limit newest when limit is above 0.
func newestFirst(records []recordsv1alpha1.DecisionRecord, limit int) []recordsv1alpha1.DecisionRecord {
	out := slices.Clone(records)
	slices.SortStableFunc(out, func(a, b recordsv1alpha1.DecisionRecord) int {
		return cmp.Or(b.Spec.Time.Compare(a.Spec.Time.Time), cmp.Compare(a.Name, b.Name))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// historyHeader are the columns of the history table.
var historyHeader = []string{"TIME", "TYPE", "WHO", "WHAT", "WHY", "EVIDENCE", "POLICY"}

// historyRow is one record's cells under historyHeader; the message is cut to
// about whyWidth characters unless wide.
func historyRow(r *recordsv1alpha1.DecisionRecord, wide bool) []string {
	s := r.Spec
	when := none
	if !s.Time.IsZero() {
		when = s.Time.UTC().Format(time.RFC3339)
	}
	why := singleLine(s.Message)
	if !wide {
		why = cutMessage(why, whyWidth)
	}
	return []string{when, orNone(string(s.Type)), orNone(singleLine(s.Actor)), singleLine(record.Describe(r)),
		orNone(why), evidenceText(s.Evidence), policyText(s.PolicyGenerations)}
}

// evidenceText prints the metrics and values of a decision, such as
// "sourced-revenue=250000, csat=4.6", or "-".
func evidenceText(evidence []recordsv1alpha1.EvidenceValue) string {
	parts := make([]string, 0, len(evidence))
	for _, e := range evidence {
		parts = append(parts, e.Metric+"="+string(e.Value))
	}
	return orNone(strings.Join(parts, ", "))
}

// policyText prints the policy generations a decision applied, such as
// "tier gen 3, program gen 7" or "path gen 2", or "-".
func policyText(g recordsv1alpha1.PolicyGenerations) string {
	var parts []string
	for _, p := range []struct {
		what string
		gen  int64
	}{{"tier", g.Tier}, {"program", g.Program}, {"path", g.ReviewPath}} {
		if p.gen != 0 {
			parts = append(parts, fmt.Sprintf("%s gen %d", p.what, p.gen))
		}
	}
	return orNone(strings.Join(parts, ", "))
}

// singleLine folds tabs, newlines and runs of spaces into single spaces, so a
// multi-line message stays in its table cell.
func singleLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cutMessage shortens s to at most width characters, ending it with "..." when cut.
func cutMessage(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return strings.TrimRight(string(r[:width-3]), " ") + "..."
}

// writeHistory prints partner key's records, newest first and at most
// opts.Limit of them: as a table (says so when there are none), or as the list
// of records as stored in JSON or YAML (an empty list when there are none, so
// the output stays parseable). Server-side managedFields are left out, as
// kubectl get leaves them out.
func writeHistory(w io.Writer, key types.NamespacedName, records []recordsv1alpha1.DecisionRecord, opts HistoryOptions) error {
	if err := opts.validate(); err != nil {
		return err
	}
	records = newestFirst(records, opts.Limit)
	switch opts.Output {
	case outputJSON, outputYAML:
		list := recordsv1alpha1.DecisionRecordList{
			TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "DecisionRecordList"},
			Items:    make([]recordsv1alpha1.DecisionRecord, 0, len(records)),
		}
		for _, r := range records {
			r.TypeMeta = metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "DecisionRecord"}
			r.ManagedFields = nil
			list.Items = append(list.Items, r)
		}
		var b []byte
		var err error
		if opts.Output == outputJSON {
			b, err = json.MarshalIndent(list, "", "  ")
			b = append(b, '\n')
		} else {
			b, err = yaml.Marshal(list)
		}
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if len(records) == 0 {
		_, err := fmt.Fprintf(w, "no decision records for partner %s/%s\n", key.Namespace, key.Name)
		return err
	}
	wide := opts.Wide || opts.Output == outputWide
	tw := newTable(w)
	fmt.Fprintln(tw, strings.Join(historyHeader, "\t"))
	for i := range records {
		fmt.Fprintln(tw, strings.Join(historyRow(&records[i], wide), "\t"))
	}
	return tw.Flush()
}
