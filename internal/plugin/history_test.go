package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
)

var acme = types.NamespacedName{Namespace: "partners", Name: "acme"}

// historyRecord is a record of partner acme named name, made at now+at by actor.
func historyRecord(name, actor string, at time.Duration, change func(*recordsv1alpha1.DecisionRecordSpec)) recordsv1alpha1.DecisionRecord {
	r := recordsv1alpha1.DecisionRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: acme.Namespace, Name: name,
			Labels: map[string]string{record.LabelPartner: acme.Name, record.LabelType: string(recordsv1alpha1.DecisionRequestOutcome)}},
		Spec: recordsv1alpha1.DecisionRecordSpec{
			Type: recordsv1alpha1.DecisionRequestOutcome, Partner: acme.Name, Program: "global",
			Subject: recordsv1alpha1.DecisionSubject{Kind: "ExceptionRequest", Name: name + "-request"},
			Time:    metav1.NewTime(now.Add(at)), Actor: actor, Reason: "Approved", To: "Approved", Request: name + "-request",
			RetainUntil: metav1.NewTime(now.Add(at + 365*24*time.Hour)),
		},
	}
	if change != nil {
		change(&r.Spec)
	}
	return r
}

func TestHistoryRow(t *testing.T) {
	long := strings.Repeat("abcdefghij", 12) // 120 characters
	tests := map[string]struct {
		change func(*recordsv1alpha1.DecisionRecordSpec)
		wide   bool
		want   []string
	}{
		"tier change with evidence and tier and program generations": {
			change: func(s *recordsv1alpha1.DecisionRecordSpec) {
				s.Type, s.From, s.To, s.Reason, s.Request = recordsv1alpha1.DecisionTierChange, "registered", "select", "Promoted", ""
				s.Message = "all requirements of select met"
				s.Evidence = []recordsv1alpha1.EvidenceValue{{Metric: "sourced-revenue", Value: "250000"}, {Metric: "csat", Value: "4.6"}}
				s.PolicyGenerations = recordsv1alpha1.PolicyGenerations{Tier: 3, Program: 7}
			},
			want: []string{"2026-11-23T10:00:00Z", "TierChange", "system:serviceaccount:partnergov-system:controller",
				"tier registered -> select (Promoted)", "all requirements of select met",
				"sourced-revenue=250000, csat=4.6", "tier gen 3, program gen 7"},
		},
		"stage decision with a review path generation and no evidence": {
			change: func(s *recordsv1alpha1.DecisionRecordSpec) {
				s.Type, s.Reason, s.Stage, s.To, s.Actor = recordsv1alpha1.DecisionStageDecision, "Approve", "finance", "", "dana@example.com"
				s.Message = "pipeline justifies it"
				s.PolicyGenerations.ReviewPath = 2
			},
			want: []string{"2026-11-23T10:00:00Z", "StageDecision", "dana@example.com",
				"Approve stage finance of r1-request", "pipeline justifies it", "-", "path gen 2"},
		},
		"no message, evidence or policy shows dashes": {
			want: []string{"2026-11-23T10:00:00Z", "RequestOutcome", "system:serviceaccount:partnergov-system:controller",
				"request r1-request Approved (Approved)", "-", "-", "-"},
		},
		"a long message is cut to 80 characters": {
			change: func(s *recordsv1alpha1.DecisionRecordSpec) { s.Message = long },
			want: []string{"2026-11-23T10:00:00Z", "RequestOutcome", "system:serviceaccount:partnergov-system:controller",
				"request r1-request Approved (Approved)", long[:77] + "...", "-", "-"},
		},
		"a long message is whole when wide": {
			change: func(s *recordsv1alpha1.DecisionRecordSpec) { s.Message = long },
			wide:   true,
			want: []string{"2026-11-23T10:00:00Z", "RequestOutcome", "system:serviceaccount:partnergov-system:controller",
				"request r1-request Approved (Approved)", long, "-", "-"},
		},
		"a message of exactly 80 characters is not cut": {
			change: func(s *recordsv1alpha1.DecisionRecordSpec) { s.Message = long[:80] },
			want: []string{"2026-11-23T10:00:00Z", "RequestOutcome", "system:serviceaccount:partnergov-system:controller",
				"request r1-request Approved (Approved)", long[:80], "-", "-"},
		},
		"a multi-line message stays on one line": {
			change: func(s *recordsv1alpha1.DecisionRecordSpec) { s.Message = "within budget\n\tsee the\r\nQ4 plan" },
			want: []string{"2026-11-23T10:00:00Z", "RequestOutcome", "system:serviceaccount:partnergov-system:controller",
				"request r1-request Approved (Approved)", "within budget see the Q4 plan", "-", "-"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := historyRecord("r1", "system:serviceaccount:partnergov-system:controller", -2*time.Hour, tc.change)
			got := historyRow(&r, tc.wide)
			if !slices.Equal(got, tc.want) {
				t.Errorf("row:\n got %q\nwant %q", got, tc.want)
			}
			if len(got) != len(historyHeader) {
				t.Errorf("%d cells under %d columns", len(got), len(historyHeader))
			}
		})
	}
}

func TestWriteHistory(t *testing.T) {
	long := strings.Repeat("0123456789", 10)
	records := []recordsv1alpha1.DecisionRecord{
		historyRecord("r-old", "oldest@example.com", -72*time.Hour, nil),
		historyRecord("r-new", "newest@example.com", -time.Minute, func(s *recordsv1alpha1.DecisionRecordSpec) { s.Message = long }),
		historyRecord("r-tie-b", "tie-b@example.com", -time.Hour, nil),
		historyRecord("r-tie-a", "tie-a@example.com", -time.Hour, nil),
	}
	records[0].ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "partnergov", Operation: metav1.ManagedFieldsOperationUpdate}}
	tests := map[string]struct {
		records []recordsv1alpha1.DecisionRecord
		opts    HistoryOptions
		// rows are, in order, a string found in each row of a table.
		rows []string
		// names are the records of a JSON or YAML list, in order.
		names []string
		// want and dontWant are found, or not, anywhere in the output.
		want, dontWant []string
		wantErr        string
	}{
		"newest first, equal times by name": {
			records: records, opts: HistoryOptions{Output: outputTable},
			rows: []string{"newest@example.com", "tie-a@example.com", "tie-b@example.com", "oldest@example.com"},
		},
		"the message is cut in the table": {
			records: records, opts: HistoryOptions{Output: outputTable},
			rows: []string{"newest@example.com", "tie-a", "tie-b", "oldest"},
			want: []string{long[:77] + "..."}, dontWant: []string{long},
		},
		"--wide shows the whole message": {
			records: records, opts: HistoryOptions{Output: outputTable, Wide: true},
			rows: []string{"newest@example.com", "tie-a", "tie-b", "oldest"},
			want: []string{long},
		},
		"-o wide shows the whole message": {
			records: records, opts: HistoryOptions{Output: outputWide},
			rows: []string{"newest@example.com", "tie-a", "tie-b", "oldest"},
			want: []string{long},
		},
		"--limit keeps the newest": {
			records: records, opts: HistoryOptions{Output: outputTable, Limit: 2},
			rows:     []string{"newest@example.com", "tie-a@example.com"},
			dontWant: []string{"tie-b@example.com", "oldest@example.com"},
		},
		"--limit above the count keeps all": {
			records: records, opts: HistoryOptions{Output: outputTable, Limit: 10},
			rows: []string{"newest", "tie-a", "tie-b", "oldest"},
		},
		"no records": {
			opts: HistoryOptions{Output: outputTable},
			want: []string{"no decision records for partner partners/acme\n"}, dontWant: []string{"TIME"},
		},
		"no records, wide": {
			opts: HistoryOptions{Output: outputWide, Limit: 3},
			want: []string{"no decision records for partner partners/acme\n"},
		},
		"json lists the records as stored, newest first": {
			records: records, opts: HistoryOptions{Output: outputJSON},
			names:    []string{"r-new", "r-tie-a", "r-tie-b", "r-old"},
			want:     []string{`"kind": "DecisionRecordList"`, `"kind": "DecisionRecord"`, long},
			dontWant: []string{"managedFields", "TIME"},
		},
		"json with a limit": {
			records: records, opts: HistoryOptions{Output: outputJSON, Limit: 1},
			names: []string{"r-new"},
		},
		"json without records is an empty list": {
			opts:  HistoryOptions{Output: outputJSON},
			names: []string{},
			want:  []string{`"items": []`}, dontWant: []string{"no decision records"},
		},
		"yaml lists the records as stored, newest first": {
			records: records, opts: HistoryOptions{Output: outputYAML, Limit: 3},
			names: []string{"r-new", "r-tie-a", "r-tie-b"},
			want:  []string{"kind: DecisionRecordList\n"},
		},
		"an unknown output format": {
			records: records, opts: HistoryOptions{Output: "csv"},
			wantErr: `unknown output format "csv"`,
		},
		"a negative limit": {
			records: records, opts: HistoryOptions{Output: outputTable, Limit: -1},
			wantErr: "--limit must be 0 (all) or more",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			input := slices.Clone(tc.records)
			var out bytes.Buffer
			err := writeHistory(&out, acme, tc.records, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(tc.records, input, func(a, b recordsv1alpha1.DecisionRecord) bool { return a.Name == b.Name }) {
				t.Errorf("writeHistory reordered its input")
			}
			got := out.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(got, w) {
					t.Errorf("output has %q:\n%s", w, got)
				}
			}
			if tc.rows != nil {
				lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
				if head := strings.Fields(lines[0]); !slices.Equal(head, historyHeader) {
					t.Fatalf("header %q, want %q", head, historyHeader)
				}
				if len(lines)-1 != len(tc.rows) {
					t.Fatalf("%d rows, want %d:\n%s", len(lines)-1, len(tc.rows), got)
				}
				for i, w := range tc.rows {
					if !strings.Contains(lines[i+1], w) {
						t.Errorf("row %d is %q, want the record of %s", i+1, lines[i+1], w)
					}
				}
			}
			if tc.names != nil {
				var list recordsv1alpha1.DecisionRecordList
				var uerr error
				if tc.opts.Output == outputYAML {
					uerr = yaml.Unmarshal(out.Bytes(), &list)
				} else {
					uerr = json.Unmarshal(out.Bytes(), &list)
				}
				if uerr != nil {
					t.Fatalf("output does not parse: %v\n%s", uerr, got)
				}
				var names []string
				for _, r := range list.Items {
					names = append(names, r.Name)
				}
				if !slices.Equal(names, tc.names) && !(len(names) == 0 && len(tc.names) == 0) {
					t.Errorf("records %q, want %q", names, tc.names)
				}
				for _, r := range list.Items {
					i := slices.IndexFunc(tc.records, func(in recordsv1alpha1.DecisionRecord) bool { return in.Name == r.Name })
					if i < 0 {
						t.Fatalf("record %s was not given", r.Name)
					}
					if a, b := mustJSON(t, r.Spec), mustJSON(t, tc.records[i].Spec); a != b {
						t.Errorf("record %s spec changed:\n got %s\nwant %s", r.Name, a, b)
					}
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHistoryListsThePartnersRecordsWithoutThePartner(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := recordsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	// The controller's own records of partner acme (which no longer exists).
	gone := &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme", UID: "uid-acme"},
		Spec: v1alpha1.PartnerSpec{Program: "global"}}
	promoted := record.TierChange(gone, v1alpha1.TierDecision{Time: metav1.NewTime(now.Add(-time.Hour)), From: "registered", To: "select", Reason: "Promoted"}, "controller", time.Hour)
	demoted := record.TierChange(gone, v1alpha1.TierDecision{Time: metav1.NewTime(now), From: "select", To: "registered", Reason: "Demoted"}, "controller", time.Hour)
	// Labelled acme, but about another partner: spec.partner decides.
	mislabelled := historyRecord("mislabelled", "x", 0, func(s *recordsv1alpha1.DecisionRecordSpec) { s.Partner = "acme-2" })
	otherPartner := historyRecord("other-partner", "x", 0, func(s *recordsv1alpha1.DecisionRecordSpec) { s.Partner = "globex" })
	otherPartner.Labels[record.LabelPartner] = "globex"
	otherNamespace := historyRecord("other-namespace", "x", 0, nil)
	otherNamespace.Namespace = "elsewhere"
	// A name too long for a label value is found by spec.partner.
	longName := strings.Repeat("a", 70)
	long := historyRecord("long-name", "x", 0, func(s *recordsv1alpha1.DecisionRecordSpec) { s.Partner = longName })
	delete(long.Labels, record.LabelPartner)

	c := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(promoted, demoted, &mislabelled, &otherPartner, &otherNamespace, &long).Build()
	tests := map[string]struct {
		partner types.NamespacedName
		want    []string
	}{
		"the partner's records in its namespace, newest first": {partner: acme, want: []string{demoted.Name, promoted.Name}},
		"another namespace":          {partner: types.NamespacedName{Namespace: "elsewhere", Name: "acme"}, want: []string{"other-namespace"}},
		"a partner without records":  {partner: types.NamespacedName{Namespace: "partners", Name: "initech"}},
		"a name longer than a label": {partner: types.NamespacedName{Namespace: "partners", Name: longName}, want: []string{"long-name"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := History(context.Background(), c, tc.partner)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range got {
				names = append(names, r.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("records %q, want %q", names, tc.want)
			}
		})
	}
	if err := c.Get(context.Background(), acme, &v1alpha1.Partner{}); !apierrors.IsNotFound(err) {
		t.Fatalf("partner acme should not exist: %v", err)
	}
}

func TestHistoryCommandIsRegistered(t *testing.T) {
	root := NewCommand(genericiooptions.NewTestIOStreamsDiscard())
	cmd, _, err := root.Find([]string{"history"})
	if err != nil || cmd.Name() != "history" {
		t.Fatalf("kubectl partnergov history is not registered: %v", err)
	}
	for _, f := range []string{"output", "wide", "limit", "namespace", "verify"} {
		if cmd.Flags().Lookup(f) == nil && cmd.InheritedFlags().Lookup(f) == nil {
			t.Errorf("history has no --%s flag", f)
		}
	}
	if err := Run(context.Background(), genericiooptions.NewTestIOStreamsDiscard(), []string{"history", "acme", "-o", "csv"}); err == nil ||
		!strings.Contains(err.Error(), "unknown output format") {
		t.Errorf("history -o csv: %v, want an unknown output format error before connecting", err)
	}
}

// TestHistoryVerifyNamesWhatIsWrong: --verify prints that a partner's chain
// verified (counting its records and the head's sequence, and listing the
// records made before chaining apart), or each finding with the records it
// names, and then fails.
func TestHistoryVerifyNamesWhatIsWrong(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := recordsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	old := historyRecord("before-chaining", "x", -4*time.Hour, nil)
	var chained []recordsv1alpha1.DecisionRecord
	head := record.Head{}
	for i, name := range []string{"r1", "r2", "r3"} {
		r := historyRecord(name, "controller", time.Duration(i-3)*time.Hour, nil)
		record.Link(&r, head)
		head = record.HeadOf(&r)
		chained = append(chained, r)
	}
	rc := &v1alpha1.RecordChain{
		ObjectMeta: metav1.ObjectMeta{Namespace: acme.Namespace, Name: record.ChainName(acme.Name)},
		Spec: v1alpha1.RecordChainSpec{Partner: acme.Name, Sequence: 3, Digest: head.Digest,
			Newest: v1alpha1.ChainedRecord{Name: "r3", Labels: chained[2].Labels, Spec: chained[2].Spec}},
	}
	tests := map[string]struct {
		tamper  func(records []recordsv1alpha1.DecisionRecord)
		want    []string
		wantErr string
	}{
		"a whole chain": {
			want: []string{"chain verified: 3 records, head sequence 3", "1 record(s) unchained (before chaining), not checked: before-chaining"},
		},
		"an altered record": {
			tamper: func(records []recordsv1alpha1.DecisionRecord) { records[1].Spec.Actor = "mallory@example.com" },
			want: []string{"chain NOT verified: 1 finding(s) over 3 records, head sequence 3",
				"  altered: record r2 (sequence 2) does not match its digest"},
			wantErr: "the record chain of partner partners/acme has 1 finding(s)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			records := []recordsv1alpha1.DecisionRecord{*old.DeepCopy()}
			for _, r := range chained {
				records = append(records, *r.DeepCopy())
			}
			if tc.tamper != nil {
				tc.tamper(records[1:])
			}
			b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(rc.DeepCopy())
			for i := range records {
				b = b.WithObjects(&records[i])
			}
			v, err := VerifyHistory(context.Background(), b.Build(), acme, now)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = writeVerification(&out, acme, v)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			for _, line := range tc.want {
				if !strings.Contains(out.String(), line) {
					t.Errorf("output lacks %q:\n%s", line, out.String())
				}
			}
		})
	}
}

// TestHistoryVerifyChecksTheHeadsSealWithTheKeys: given the manager's seal
// keys, --verify names a head that does not verify under them (written past
// the webhooks), and accepts one sealed with a previous key; without keys it
// says the head's seal was not checked.
func TestHistoryVerifyChecksTheHeadsSealWithTheKeys(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := recordsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	r := historyRecord("r1", "controller", -time.Hour, nil)
	record.Link(&r, record.Head{})
	head := record.HeadOf(&r)
	spec := v1alpha1.RecordChainSpec{Partner: acme.Name, Sequence: 1, Digest: head.Digest,
		Newest: v1alpha1.ChainedRecord{Name: "r1", Labels: r.Labels, Spec: r.Spec}}
	oldKey, newKey, otherKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32)), []byte(strings.Repeat("x", 32))
	sealWith := func(key []byte) string {
		k, err := seal.New(key)
		if err != nil {
			t.Fatal(err)
		}
		return k.Sign(seal.ChainHead(acme.Namespace, spec)...)
	}
	manager, err := seal.New(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		seal        string
		keys        *seal.Keys
		unsealed    bool
		noteChecked bool
	}{
		"sealed with the current key":             {seal: sealWith(newKey), keys: manager},
		"sealed with a previous key":              {seal: sealWith(oldKey), keys: manager},
		"sealed with a key the manager never had": {seal: sealWith(otherKey), keys: manager, unsealed: true},
		"not sealed at all":                       {seal: "", keys: manager, unsealed: true},
		"no keys given: not checked, and said":    {seal: "", noteChecked: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rc := &v1alpha1.RecordChain{ObjectMeta: metav1.ObjectMeta{Namespace: acme.Namespace, Name: record.ChainName(acme.Name)}, Spec: *spec.DeepCopy()}
			rc.Spec.Seal = tc.seal
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(rc, r.DeepCopy()).Build()
			v, err := VerifyHistoryWith(context.Background(), c, acme, now, tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			found := slices.ContainsFunc(v.Findings, func(f record.Finding) bool { return f.Kind == record.FindingUnsealedHead })
			if found != tc.unsealed {
				t.Errorf("unsealed head found: %v, want %v (findings %v)", found, tc.unsealed, v.Findings)
			}
			noted := slices.ContainsFunc(v.Notes, func(n string) bool { return strings.Contains(n, "was not checked") })
			if noted != tc.noteChecked {
				t.Errorf("note that the seal was not checked: %v, want %v (notes %v)", noted, tc.noteChecked, v.Notes)
			}
		})
	}
}
