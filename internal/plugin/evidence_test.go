package plugin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestParseEvidenceCSV(t *testing.T) {
	const header = "partner,metric,value,observedAt\n"
	at := func(s string) metav1.Time { tm, _ := time.Parse(time.RFC3339, s); return metav1.NewTime(tm) }
	row := func(n int, ns, partner, metric, value, observed string) EvidenceRow {
		return EvidenceRow{Row: n, Namespace: ns, Partner: partner,
			Entry: v1alpha1.EvidenceEntry{Metric: metric, Value: v1alpha1.Decimal(value), ObservedAt: at(observed)}}
	}
	tests := map[string]struct {
		csv string
		// rows are the rows read; refused the rows refused, as "row N, column C: ..." substrings, in order.
		rows    []EvidenceRow
		refused []string
		total   int
		// fileErr refuses the file: every line of the error, as substrings.
		fileErr []string
	}{
		"rows are numbered as a spreadsheet shows them, in the namespace of -n": {
			csv: header + "acme,revenue,150,2026-11-20T09:30:00Z\n\nglobex,training,7,2026-11-01\n",
			rows: []EvidenceRow{row(2, "partners", "acme", "revenue", "150", "2026-11-20T09:30:00Z"),
				row(4, "partners", "globex", "training", "7", "2026-11-01T00:00:00Z")},
			total: 2,
		},
		"a namespace column names each row's namespace, -n the empty cells'": {
			csv:   "namespace,partner,metric,value,observedAt\nemea,acme,revenue,1,2026-11-20T00:00:00Z\n,globex,revenue,2,2026-11-20T00:00:00Z\n",
			rows:  []EvidenceRow{row(2, "emea", "acme", "revenue", "1", "2026-11-20T00:00:00Z"), row(3, "partners", "globex", "revenue", "2", "2026-11-20T00:00:00Z")},
			total: 2,
		},
		"an export's headers are understood": {
			csv:   "\uFEFFPartner,Metric,Value,Observed At\nacme,Sourced-Revenue,\"1,250,000.50\",2026-11-20T09:30:00.123+01:00\n",
			rows:  []EvidenceRow{row(2, "partners", "acme", "sourced-revenue", "1250000.50", "2026-11-20T08:30:00Z")},
			total: 1,
		},
		"observed_at and observed-at are observedAt too": {
			csv:   "partner,metric,value,observed_at\nacme,revenue,-3,2026-11-20T00:00:00Z\n",
			rows:  []EvidenceRow{row(2, "partners", "acme", "revenue", "-3", "2026-11-20T00:00:00Z")},
			total: 1,
		},
		"a wrong cell refuses its row by row and column, and the other rows are read": {
			csv: header + "acme,revenue,150,2026-11-20T00:00:00Z\n" +
				"acme,training,12 USD,2026-11-20T00:00:00Z\n" +
				"globex,revenue,10,20/11/2026\n" +
				"globex,Training Completions,,2026-11-20T00:00:00Z\n" +
				"Globex Inc,revenue,10,2026-11-20T00:00:00Z\n" +
				"initech,revenue,10,2026-11-20T00:00:00Z\n",
			rows: []EvidenceRow{row(2, "partners", "acme", "revenue", "150", "2026-11-20T00:00:00Z"),
				row(7, "partners", "initech", "revenue", "10", "2026-11-20T00:00:00Z")},
			refused: []string{
				`row 3, column value: "12 USD" is not a decimal number`,
				`row 4, column observedAt: "20/11/2026" is not a date (2027-03-31) or an RFC 3339 time`,
				"row 5, column value: is required",
				`row 5, column metric: "Training Completions" is not a metric name`,
				`row 6, column partner: "Globex Inc" is not a Partner's name`,
			},
			total: 6,
		},
		"a value has at most 18 digits before the point and 9 after": {
			csv:     header + "acme,revenue,1234567890123456789,2026-11-20T00:00:00Z\nacme,score,0.1234567891,2026-11-20T00:00:00Z\n",
			refused: []string{"row 2, column value: \"1234567890123456789\" is not a decimal", "row 3, column value: \"0.1234567891\" is not a decimal"},
			total:   2,
		},
		"evidence observed in the future is refused": {
			csv:     header + "acme,revenue,1,2026-11-23T12:04:00Z\nacme,training,1,2026-11-24\n",
			rows:    []EvidenceRow{row(2, "partners", "acme", "revenue", "1", "2026-11-23T12:04:00Z")},
			refused: []string{"row 3, column observedAt: 2026-11-24T00:00:00Z is in the future"},
			total:   2,
		},
		"a wrong namespace cell is named": {
			csv:     "partner,metric,value,observedAt,namespace\nacme,revenue,1,2026-11-20,Partners EU\n",
			refused: []string{`row 2, column namespace: "Partners EU" is not a namespace name`},
			total:   1,
		},
		"a cell beyond the header or a broken quote refuses its row": {
			csv:  header + "acme,revenue,1,2026-11-20,surplus\nacme,\"tr\"aining,1,2026-11-20\nglobex,revenue,1,2026-11-20\n",
			rows: []EvidenceRow{row(4, "partners", "globex", "revenue", "1", "2026-11-20T00:00:00Z")},
			refused: []string{"row 2: cell 5 is beyond the header's 4 columns",
				`row 3: extraneous or missing " in quoted-field`},
			total: 3,
		},
		"blank rows of a spreadsheet are skipped": {
			csv:   header + "acme,revenue,1,2026-11-20\n,,,\n , , , \n",
			rows:  []EvidenceRow{row(2, "partners", "acme", "revenue", "1", "2026-11-20T00:00:00Z")},
			total: 1,
		},
		"an unknown column refuses the file": {
			csv:     "partner,metric,value,observedAt,account owner\nacme,revenue,1,2026-11-20,jo\n",
			fileErr: []string{"row 1, column account owner: unknown column; the columns are partner, metric, value, observedAt, namespace"},
		},
		"a missing column refuses the file": {
			csv:     "partner,metric,value\n",
			fileErr: []string{"row 1, column observedAt: the header has no observedAt column"},
		},
		"a column is named once": {
			csv:     "partner,metric,value,observedAt,Observed At\n",
			fileErr: []string{"row 1, column Observed At: column observedAt is named twice"},
		},
		"an empty file needs a header": {
			csv:     "",
			fileErr: []string{"the CSV is empty: it needs a header row naming the columns (partner, metric, value, observedAt, namespace)"},
		},
		"a header alone imports nothing": {
			csv:     header + ",,,\n",
			fileErr: []string{"the CSV has a header and no evidence row"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseEvidenceCSV(strings.NewReader(tc.csv), "partners", now)
			if len(tc.fileErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tc.fileErr)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tc.fileErr) {
					t.Errorf("error:\n%s\nwant %d lines", err, len(tc.fileErr))
				}
				for i, want := range tc.fileErr {
					if i < len(lines) && !strings.Contains(lines[i], want) {
						t.Errorf("error line %d is %q, want it to say %q", i, lines[i], want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.rows, got.Rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if got.Total != tc.total {
				t.Errorf("total %d, want %d", got.Total, tc.total)
			}
			if len(got.Refused) != len(tc.refused) {
				t.Errorf("refused:\n%s\nwant %d", got.Refused, len(tc.refused))
			}
			for i, want := range tc.refused {
				if i < len(got.Refused) && !strings.Contains(got.Refused[i].Error(), want) {
					t.Errorf("refusal %d is %q, want it to say %q", i, got.Refused[i].Error(), want)
				}
			}
		})
	}
}

func TestPlanEvidence(t *testing.T) {
	day := func(d int) metav1.Time { return metav1.NewTime(time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC)) }
	row := func(n int, ns, partner, metric, value string, d int) EvidenceRow {
		return EvidenceRow{Row: n, Namespace: ns, Partner: partner, Entry: v1alpha1.EvidenceEntry{Metric: metric, Value: v1alpha1.Decimal(value), ObservedAt: day(d)}}
	}
	entry := func(metric, value string, d int) v1alpha1.EvidenceEntry {
		return v1alpha1.EvidenceEntry{Metric: metric, Value: v1alpha1.Decimal(value), ObservedAt: day(d)}
	}
	tests := map[string]struct {
		rows       []EvidenceRow
		partners   []PartnerEvidence
		superseded []SupersededRow
		refused    []string
	}{
		"the rows of one partner are one apply, partners in namespace and name order, entries by metric": {
			rows: []EvidenceRow{row(2, "b", "zeta", "revenue", "1", 1), row(3, "a", "acme", "training", "7", 1),
				row(4, "b", "alpha", "revenue", "2", 1), row(5, "a", "acme", "revenue", "150", 2)},
			partners: []PartnerEvidence{
				{Namespace: "a", Partner: "acme", Entries: []v1alpha1.EvidenceEntry{entry("revenue", "150", 2), entry("training", "7", 1)}, Rows: []int{5, 3}},
				{Namespace: "b", Partner: "alpha", Entries: []v1alpha1.EvidenceEntry{entry("revenue", "2", 1)}, Rows: []int{4}},
				{Namespace: "b", Partner: "zeta", Entries: []v1alpha1.EvidenceEntry{entry("revenue", "1", 1)}, Rows: []int{2}},
			},
		},
		"a partner of the same name in another namespace is another partner": {
			rows: []EvidenceRow{row(2, "emea", "acme", "revenue", "1", 1), row(3, "amer", "acme", "revenue", "2", 1)},
			partners: []PartnerEvidence{
				{Namespace: "amer", Partner: "acme", Entries: []v1alpha1.EvidenceEntry{entry("revenue", "2", 1)}, Rows: []int{3}},
				{Namespace: "emea", Partner: "acme", Entries: []v1alpha1.EvidenceEntry{entry("revenue", "1", 1)}, Rows: []int{2}},
			},
		},
		"of several observations of one metric the latest is applied, wherever it is in the file": {
			rows: []EvidenceRow{row(2, "a", "acme", "revenue", "100", 1), row(3, "a", "acme", "revenue", "300", 3), row(4, "a", "acme", "revenue", "200", 2)},
			partners: []PartnerEvidence{
				{Namespace: "a", Partner: "acme", Entries: []v1alpha1.EvidenceEntry{entry("revenue", "300", 3)}, Rows: []int{3}},
			},
			superseded: []SupersededRow{{Row: 2, By: 3}, {Row: 4, By: 3}},
		},
		"the same observation twice is applied once": {
			rows: []EvidenceRow{row(2, "a", "acme", "revenue", "100", 1), row(3, "a", "acme", "revenue", "100", 1)},
			partners: []PartnerEvidence{
				{Namespace: "a", Partner: "acme", Entries: []v1alpha1.EvidenceEntry{entry("revenue", "100", 1)}, Rows: []int{3}},
			},
			superseded: []SupersededRow{{Row: 2, By: 3}},
		},
		"two values observed at the same time are refused, and the partner's other metrics applied": {
			rows: []EvidenceRow{row(2, "a", "acme", "revenue", "90", 1), row(3, "a", "acme", "revenue", "100", 2),
				row(4, "a", "acme", "training", "7", 1), row(5, "a", "acme", "revenue", "120", 2)},
			partners: []PartnerEvidence{
				{Namespace: "a", Partner: "acme", Entries: []v1alpha1.EvidenceEntry{entry("training", "7", 1)}, Rows: []int{4}},
			},
			superseded: []SupersededRow{{Row: 2, By: 3}},
			refused: []string{
				"row 3, column value: metric revenue of Partner a/acme observed at 2026-11-02T00:00:00Z is 100 here and something else in row 5 (120)",
				"row 5, column value: metric revenue of Partner a/acme observed at 2026-11-02T00:00:00Z is 120 here and something else in row 3 (100)",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			plan := PlanEvidence(tc.rows)
			if diff := cmp.Diff(tc.partners, plan.Partners); diff != "" {
				t.Errorf("applies (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.superseded, plan.Superseded); diff != "" {
				t.Errorf("superseded (-want +got):\n%s", diff)
			}
			if len(plan.Refused) != len(tc.refused) {
				t.Fatalf("refused %q, want %d", plan.Refused, len(tc.refused))
			}
			for i, want := range tc.refused {
				if !strings.HasPrefix(plan.Refused[i].Error(), want) {
					t.Errorf("refusal %d is %q, want it to start %q", i, plan.Refused[i].Error(), want)
				}
			}
		})
	}
}

func TestAnImportKeepsTheEntriesItsFieldManagerReportedBefore(t *testing.T) {
	fields := func(json string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(json)} }
	evidence := `{"f:status":{"f:evidence":{"k:{\"metric\":\"revenue\"}":{".":{},"f:metric":{},"f:value":{},"f:observedAt":{}},` +
		`"k:{\"metric\":\"pipeline\"}":{".":{},"f:metric":{},"f:value":{}}}}}`
	training := `{"f:status":{"f:evidence":{"k:{\"metric\":\"training\"}":{".":{},"f:value":{}}}}}`
	stored := &v1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "crm-export", Operation: metav1.ManagedFieldsOperationApply, Subresource: "status", FieldsV1: fields(evidence)},
			{Manager: "lms", Operation: metav1.ManagedFieldsOperationApply, Subresource: "status", FieldsV1: fields(training)},
			// Not by apply, or not on status: an apply does not remove what these own.
			{Manager: "crm-export", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", FieldsV1: fields(training)},
			{Manager: "crm-export", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: fields(`{"f:spec":{"f:owner":{}}}`)},
		}},
		Status: v1alpha1.PartnerStatus{Evidence: []v1alpha1.EvidenceEntry{
			{Metric: "pipeline", Value: "40", ObservedAt: metav1.NewTime(now.Add(-time.Hour)), Source: "crm", TrustedVia: "user:crm", Seal: "x"},
			{Metric: "revenue", Value: "100", ObservedAt: metav1.NewTime(now.Add(-time.Hour)), Source: "crm"},
			{Metric: "training", Value: "7", ObservedAt: metav1.NewTime(now.Add(-time.Hour)), Source: "lms"},
		}},
	}
	file := []v1alpha1.EvidenceEntry{{Metric: "revenue", Value: "150", ObservedAt: metav1.NewTime(now)}, {Metric: "win-rate", Value: "0.4", ObservedAt: metav1.NewTime(now)}}

	got, kept, err := withOwnedEntries(stored, "crm-export", file)
	if err != nil {
		t.Fatal(err)
	}
	want := []v1alpha1.EvidenceEntry{
		{Metric: "pipeline", Value: "40", ObservedAt: metav1.NewTime(now.Add(-time.Hour))}, // kept as stored, without what the server stamps
		file[0], file[1],
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pipeline"}, kept); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}

	// Another field manager owns none of them: its apply is the file's entries.
	got, kept, err = withOwnedEntries(stored, "another", file)
	if err != nil || len(kept) != 0 || !cmp.Equal(file, got) {
		t.Errorf("another field manager: entries %v, kept %v, error %v; want the file's alone", got, kept, err)
	}
}

func TestWriteImported(t *testing.T) {
	file := &EvidenceFile{Total: 9, Refused: RowErrors{{Row: 4, Column: evValue, Err: errors.New(`"12 USD" is not a decimal number`)}}}
	plan := EvidencePlan{
		Superseded: []SupersededRow{{Row: 2, By: 3}},
		Refused:    RowErrors{{Row: 9, Column: evValue, Err: errors.New("contradicts row 10")}},
	}
	forbidden := errors.New(`admission webhook "mpartnerstatus.governance.partnergov.io" denied the request: crm is not trusted to report metric "training"`)
	results := []PartnerImported{
		{PartnerEvidence: PartnerEvidence{Namespace: "p", Partner: "acme", Rows: []int{3, 5}}, Warnings: []string{"something to know"}},
		{PartnerEvidence: PartnerEvidence{Namespace: "p", Partner: "globex", Rows: []int{6, 8, 7}}, Err: forbidden},
		{PartnerEvidence: PartnerEvidence{Namespace: "p", Partner: "initech", Rows: []int{10}}},
	}
	tests := map[string]struct {
		dryRun      bool
		out, errOut string
		err         string
	}{
		"the summary, then every refused row in row order": {
			out:    "Summary: 3 rows applied, 2 partners updated, 5 rows refused, 1 row superseded by a later observation (9 rows read, field manager crm-export)\n",
			errOut: "Warning: rows 3, 5 (Partner p/acme): something to know\n",
			err: "5 of 9 rows refused:\n" +
				"row 4, column value: \"12 USD\" is not a decimal number\n" +
				"rows 6, 7, 8 (Partner p/globex): " + forbidden.Error() + "\n" +
				"row 9, column value: contradicts row 10",
		},
		"a dry run says nothing was written": {
			dryRun: true,
			out:    "Summary (server dry run, nothing written): 3 rows would be applied, 2 partners would be updated, 5 rows refused, 1 row superseded by a later observation (9 rows read, field manager crm-export)\n",
			errOut: "Warning: rows 3, 5 (Partner p/acme): something to know\n",
			err:    "5 of 9 rows refused:\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := writeImported(&out, &errOut, file, plan, results, ImportOptions{FieldManager: "crm-export", DryRun: tc.dryRun})
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("error %v, want it to start %q", err, tc.err)
			}
			if diff := cmp.Diff(tc.out, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.errOut, errOut.String()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}

	var out bytes.Buffer
	err := writeImported(&out, &out, &EvidenceFile{Total: 1}, EvidencePlan{}, results[2:], ImportOptions{FieldManager: "crm-export"})
	if err != nil || out.String() != "Summary: 1 row applied, 1 partner updated, 0 rows refused, 0 rows superseded by a later observation (1 row read, field manager crm-export)\n" {
		t.Errorf("nothing refused: output %q, error %v", out.String(), err)
	}
}

func TestTheProgressBarIsForLargeFilesOnATerminal(t *testing.T) {
	tests := map[string]struct {
		terminal bool
		rows     int
		want     bool
	}{
		"a large file on a terminal":     {terminal: true, rows: 1000, want: true},
		"a small file on a terminal":     {terminal: true, rows: 200},
		"a large file into a pipe":       {rows: 1000},
		"just over the size on a screen": {terminal: true, rows: 201, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := showProgress(tc.terminal, tc.rows); got != tc.want {
				t.Errorf("showProgress(%v, %d) = %v, want %v", tc.terminal, tc.rows, got, tc.want)
			}
		})
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is taken for a terminal")
	}
	var errOut bytes.Buffer
	if bar := newProgress(&errOut, 1000, EvidencePlan{Partners: []PartnerEvidence{{Rows: make([]int, 1000)}}}); bar != nil || errOut.Len() > 0 {
		t.Errorf("a progress bar into a buffer: %v, wrote %q", bar, errOut.String())
	}
}
