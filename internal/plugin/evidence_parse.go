package plugin

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/guard"
)

// Columns of `kubectl partnergov evidence import`, spelled as the evidence
// entry's fields. The reading and grouping below are pure: the command applies
// what they plan.
const (
	evPartner    = "partner"
	evMetric     = "metric"
	evValue      = "value"
	evObservedAt = "observedAt"
	evNamespace  = "namespace"
)

// evidenceColumns are the columns in the order the help lists them.
var evidenceColumns = []string{evPartner, evMetric, evValue, evObservedAt, evNamespace}

// requiredEvidenceColumns must be in every evidence file (namespace may come from -n).
var requiredEvidenceColumns = []string{evPartner, evMetric, evValue, evObservedAt}

var (
	// decimalPattern is v1alpha1.Decimal's, and groupedDecimal the same with thousands separators.
	decimalPattern = regexp.MustCompile(`^-?[0-9]{1,18}(\.[0-9]{1,9})?$`)
	groupedDecimal = regexp.MustCompile(`^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{1,9})?$`)
	// metricPattern is the catalog's pattern of a metric name.
	metricPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// evidenceColumn maps a header cell to a column: case, spaces, underscores and
// dashes do not matter (Observed At and observed_at are observedAt).
func evidenceColumn(h string) (string, bool) {
	key := strings.ReplaceAll(headerKey(h), "-", "")
	for _, col := range evidenceColumns {
		if strings.ToLower(col) == key {
			return col, true
		}
	}
	return "", false
}

// EvidenceRow is one row of an evidence file, checked: the partner it reports
// on and the entry to apply.
type EvidenceRow struct {
	// Row is the row's number as a spreadsheet shows it: the header is row 1.
	Row                int
	Namespace, Partner string
	// Entry holds the metric, the value and observedAt (the server stamps the rest).
	Entry v1alpha1.EvidenceEntry
}

// EvidenceFile is what ParseEvidenceCSV read.
type EvidenceFile struct {
	// Rows are the rows that passed the checks, in file order.
	Rows []EvidenceRow
	// Refused are the rows that did not, each by row and column.
	Refused RowErrors
	// Total is how many rows the file has after its header (blank rows aside).
	Total int
}

// ParseEvidenceCSV reads evidence rows from CSV: a header row naming the
// columns partner, metric, value and observedAt (and optionally namespace;
// case, spaces, dashes and underscores do not matter), then one evidence entry
// per row. A row without a namespace cell is in namespace. A wrong cell refuses
// its row, named by row and column, and the other rows are read on (Refused);
// a wrong header refuses the file, since every row would be wrong with it.
// Blank rows are skipped. A metric is lower-cased (catalog names are lower
// case); a value may have thousands separators; observedAt is a date
// (midnight UTC) or an RFC 3339 time, cut to the second, and may not be later
// than now (give or take the server's allowed clock skew).
func ParseEvidenceCSV(r io.Reader, namespace string, now time.Time) (*EvidenceFile, error) {
	rows, errs, err := openCSV(r, evidenceColumns, evidenceColumn)
	if err != nil {
		return nil, err
	}
	for _, col := range requiredEvidenceColumns {
		if !rows.has(col) {
			errs = append(errs, RowError{Row: 1, Column: col, Err: fmt.Errorf("the header has no %s column; the columns are %s", col, strings.Join(evidenceColumns, ", "))})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	out := &EvidenceFile{}
	for {
		row, cells, rerrs, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if rerrs == nil && blank(cells) {
			continue
		}
		out.Total++
		if cells == nil {
			out.Refused = append(out.Refused, rerrs...)
			continue
		}
		e, cerrs := BuildEvidence(cells, namespace, now)
		for _, ce := range cerrs {
			rerrs = append(rerrs, RowError{Row: row, Column: ce.Column, Err: errors.New(ce.Message)})
		}
		if len(rerrs) > 0 {
			out.Refused = append(out.Refused, rerrs...)
			continue
		}
		e.Row = row
		out.Rows = append(out.Rows, e)
	}
	if out.Total == 0 {
		return nil, fmt.Errorf("the CSV has a header and no evidence row")
	}
	return out, nil
}

// blank reports whether every cell of a row is empty (a spreadsheet's trailing ",,,").
func blank(cells map[string]string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// BuildEvidence checks one row's cells (by column) and returns its partner and
// entry, or says every column that is wrong. What only the server knows (the
// partner exists, the metric is in its program's catalog, the caller is
// trusted to report it) is left to the API server and the webhook.
func BuildEvidence(cells map[string]string, namespace string, now time.Time) (EvidenceRow, []ColumnError) {
	var errs []ColumnError
	bad := func(col, format string, args ...any) {
		errs = append(errs, ColumnError{col, fmt.Sprintf(format, args...)})
	}
	cell := func(col string) string { return strings.TrimSpace(cells[col]) }
	var out EvidenceRow
	for _, col := range requiredEvidenceColumns {
		if cell(col) == "" {
			bad(col, "is required")
		}
	}
	out.Namespace = namespace
	if ns := cell(evNamespace); ns != "" {
		out.Namespace = ns
	}
	for _, msg := range validation.IsDNS1123Label(out.Namespace) {
		bad(evNamespace, "%q is not a namespace name: %s", out.Namespace, msg)
	}
	if out.Partner = cell(evPartner); out.Partner != "" {
		for _, msg := range validation.IsDNS1123Subdomain(out.Partner) {
			bad(evPartner, "%q is not a Partner's name: %s", out.Partner, msg)
		}
	}
	if m := cell(evMetric); m != "" {
		out.Entry.Metric = strings.ToLower(m)
		if len(out.Entry.Metric) > 63 || !metricPattern.MatchString(out.Entry.Metric) {
			bad(evMetric, "%q is not a metric name: lower-case letters, digits and dashes, as the program's catalog names it, such as sourced-revenue", m)
		}
	}
	if v := cell(evValue); v != "" {
		value := v
		if groupedDecimal.MatchString(value) {
			value = strings.ReplaceAll(value, ",", "")
		}
		if !decimalPattern.MatchString(value) {
			bad(evValue, "%q is not a decimal number such as 45, -2 or 1250000.50 (at most 18 digits before the point and 9 after, without unit)", v)
		}
		out.Entry.Value = v1alpha1.Decimal(value)
	}
	if at := cell(evObservedAt); at != "" {
		t, err := parseWhen(at)
		switch {
		case err != nil:
			bad(evObservedAt, "%v", err)
		case t.After(now.Add(guard.MaxClockSkew)):
			bad(evObservedAt, "%s is in the future: evidence is reported once it is observed", t.Format(time.RFC3339))
		default:
			out.Entry.ObservedAt = metav1.NewTime(t.Truncate(time.Second))
		}
	}
	return out, errs
}

// PartnerEvidence is the one apply of one partner: every metric the file
// reports for it, by metric.
type PartnerEvidence struct {
	Namespace, Partner string
	// Entries are sorted by metric.
	Entries []v1alpha1.EvidenceEntry
	// Rows holds the row of each entry: Rows[i] is the row of Entries[i].
	Rows []int
}

// SupersededRow is a row not applied because a later observation of the same
// partner and metric is.
type SupersededRow struct {
	Row int
	// By is the row applied instead.
	By int
}

// EvidencePlan is what PlanEvidence makes of the rows.
type EvidencePlan struct {
	// Partners are the applies, sorted by namespace and name.
	Partners []PartnerEvidence
	// Superseded are the rows an observation of a later row replaces.
	Superseded []SupersededRow
	// Refused are the rows that contradict another row.
	Refused RowErrors
}

// PlanEvidence groups the rows into one apply per partner. A Partner holds
// one entry per metric (status.evidence is a map keyed by metric), so of the
// rows of one partner and metric the one observed last is applied and the
// others are superseded; of rows observed at the same time, the last in the
// file when they agree, and none when their values differ (each is refused,
// naming the others: the file contradicts itself).
func PlanEvidence(rows []EvidenceRow) EvidencePlan {
	type key struct{ ns, partner, metric string }
	byKey := map[key][]EvidenceRow{}
	var keys []key
	for _, r := range rows {
		k := key{r.Namespace, r.Partner, r.Entry.Metric}
		if _, seen := byKey[k]; !seen {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	var plan EvidencePlan
	partners := map[[2]string]*PartnerEvidence{}
	for _, k := range keys {
		group := byKey[k]
		latest := group[0].Entry.ObservedAt
		for _, r := range group {
			if r.Entry.ObservedAt.After(latest.Time) {
				latest = r.Entry.ObservedAt
			}
		}
		var last []EvidenceRow // the rows observed last, in file order
		for _, r := range group {
			if r.Entry.ObservedAt.Equal(&latest) {
				last = append(last, r)
			}
		}
		kept := last[len(last)-1]
		agree := !slices.ContainsFunc(last, func(r EvidenceRow) bool { return r.Entry.Value != kept.Entry.Value })
		if !agree {
			for _, r := range last {
				var others []string
				for _, o := range last {
					if o.Row != r.Row {
						others = append(others, fmt.Sprintf("row %d (%s)", o.Row, o.Entry.Value))
					}
				}
				plan.Refused = append(plan.Refused, RowError{Row: r.Row, Column: evValue, Err: fmt.Errorf(
					"metric %s of Partner %s/%s observed at %s is %s here and something else in %s: a Partner holds one value per metric, keep the right one",
					k.metric, k.ns, k.partner, latest.UTC().Format(time.RFC3339), r.Entry.Value, strings.Join(others, ", "))})
			}
		}
		for _, r := range group {
			switch {
			case r.Row == kept.Row && agree:
			case !agree && r.Entry.ObservedAt.Equal(&latest):
			case agree:
				plan.Superseded = append(plan.Superseded, SupersededRow{Row: r.Row, By: kept.Row})
			default:
				plan.Superseded = append(plan.Superseded, SupersededRow{Row: r.Row, By: last[0].Row})
			}
		}
		if !agree {
			continue
		}
		pk := [2]string{k.ns, k.partner}
		p := partners[pk]
		if p == nil {
			p = &PartnerEvidence{Namespace: k.ns, Partner: k.partner}
			partners[pk] = p
		}
		p.Entries = append(p.Entries, kept.Entry)
		p.Rows = append(p.Rows, kept.Row)
	}
	for _, p := range partners {
		idx := make([]int, len(p.Entries))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(p.Entries[a].Metric, p.Entries[b].Metric) })
		entries, rowsOf := make([]v1alpha1.EvidenceEntry, len(idx)), make([]int, len(idx))
		for i, j := range idx {
			entries[i], rowsOf[i] = p.Entries[j], p.Rows[j]
		}
		p.Entries, p.Rows = entries, rowsOf
		plan.Partners = append(plan.Partners, *p)
	}
	slices.SortFunc(plan.Partners, func(a, b PartnerEvidence) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Partner, b.Partner))
	})
	slices.SortFunc(plan.Superseded, func(a, b SupersededRow) int { return cmp.Compare(a.Row, b.Row) })
	slices.SortFunc(plan.Refused, func(a, b RowError) int { return cmp.Compare(a.Row, b.Row) })
	return plan
}
