package record

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
)

// chainOf makes n records of partner acme, r1 (oldest) to rn, each retained
// for retention after t0 plus its index in hours, linked in order, and the
// head after the last.
func chainOf(n int, retention time.Duration) ([]recordsv1alpha1.DecisionRecord, *Head) {
	var out []recordsv1alpha1.DecisionRecord
	head := Head{}
	for i := 1; i <= n; i++ {
		at := t0.Add(time.Duration(i) * time.Hour)
		r := recordsv1alpha1.DecisionRecord{
			ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: fmt.Sprintf("r%d", i)},
			Spec: recordsv1alpha1.DecisionRecordSpec{
				Type: recordsv1alpha1.DecisionRequestOutcome, Partner: "acme", Program: "global",
				Subject: recordsv1alpha1.DecisionSubject{Kind: "ExceptionRequest", Name: fmt.Sprintf("q%d", i)},
				Time:    metav1.NewTime(at), Actor: "controller", Reason: "Approved", To: "Approved",
				Message: fmt.Sprintf("decision %d", i), RetainUntil: metav1.NewTime(at.Add(retention)),
			},
		}
		Link(&r, head)
		head = HeadOf(r.DeepCopy())
		out = append(out, r)
	}
	return out, &head
}

// relink gives records[i:] their chain again after records[i-1] (a forger who
// recomputes the digests after changing a record).
func relink(records []recordsv1alpha1.DecisionRecord, i int) {
	head := Head{}
	if i > 0 {
		head = HeadOf(&records[i-1])
	}
	for j := i; j < len(records); j++ {
		Link(&records[j], head)
		head = HeadOf(&records[j])
	}
}

func without(records []recordsv1alpha1.DecisionRecord, names ...string) []recordsv1alpha1.DecisionRecord {
	return slices.DeleteFunc(slices.Clone(records), func(r recordsv1alpha1.DecisionRecord) bool { return slices.Contains(names, r.Name) })
}

const year = 365 * 24 * time.Hour

// TestTheChainNamesEveryKindOfTampering: Verify names a gap, a fork, a
// reordering, an altered record, a head mismatch and unanchored records, each
// with the records involved, and passes a chain that is whole, one whose
// oldest records were pruned past their retention, and one whose newest record
// the head holds and the store does not yet.
func TestTheChainNamesEveryKindOfTampering(t *testing.T) {
	now := t0.Add(10 * time.Hour)
	type finding struct {
		kind    FindingKind
		records []string
		text    string
	}
	tests := map[string]struct {
		tamper    func(records []recordsv1alpha1.DecisionRecord, head *Head) ([]recordsv1alpha1.DecisionRecord, *Head)
		now       time.Time
		want      []finding
		notes     []string
		chained   int
		unchained []string
	}{
		"a whole chain verifies": {
			chained: 5,
		},
		"records made before chaining are unchained, not tampered with": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				old := *r[0].DeepCopy()
				old.Name, old.Spec.Chain = "before", nil
				return append(r, old), h
			},
			chained: 5, unchained: []string{"before"},
		},
		"an altered record": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				r[2].Spec.Actor = "someone-else"
				return r, h
			},
			chained: 5,
			want:    []finding{{FindingAltered, []string{"r3"}, "record r3 (sequence 3) does not match its digest"}},
		},
		"an altered record whose digest was computed again": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				r[2].Spec.Reason = "Denied"
				r[2].Spec.Chain.Digest = Digest(&r[2])
				return r, h
			},
			chained: 5,
			want:    []finding{{FindingReordered, []string{"r3", "r4"}, "record r4 (sequence 4) follows digest"}},
		},
		"a record deleted from the middle": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				return without(r, "r2", "r3"), h
			},
			chained: 3,
			want:    []finding{{FindingGap, []string{"r1", "r4"}, "sequences 2-3 missing between record r1 (sequence 1) and record r4 (sequence 4)"}},
		},
		"two records claim one sequence": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				twin := *r[1].DeepCopy()
				twin.Name, twin.Spec.Message = "r2-twin", "another decision"
				twin.Spec.Chain.Digest = Digest(&twin)
				return append(r, twin), h
			},
			chained: 6,
			want:    []finding{{FindingFork, []string{"r2", "r2-twin"}, "records r2 and r2-twin all claim sequence 2"}},
		},
		"records moved": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				// r2 and r3 swap places, each with its digest computed again.
				r[1].Spec.Chain.Sequence, r[2].Spec.Chain.Sequence = 3, 2
				r[1].Spec.Chain.Digest, r[2].Spec.Chain.Digest = Digest(&r[1]), Digest(&r[2])
				return r, h
			},
			chained: 5,
			want: []finding{
				{FindingReordered, []string{"r1", "r3"}, "record r3 (sequence 2) follows digest"},
				{FindingReordered, []string{"r3", "r2"}, "record r2 (sequence 3) follows digest"},
				{FindingReordered, []string{"r2", "r4"}, "record r4 (sequence 4) follows digest"},
			},
		},
		"the first record names a previous one": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				r[0].Spec.Chain.Previous = r[3].Spec.Chain.Digest
				r[0].Spec.Chain.Digest = Digest(&r[0])
				return r, h
			},
			chained: 5,
			want: []finding{
				{FindingReordered, []string{"r1"}, "record r1 claims sequence 1 but names a previous record"},
				{FindingReordered, []string{"r1", "r2"}, "record r2 (sequence 2) follows digest"},
			},
		},
		"the history after a record rewritten": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				r[2].Spec.To = "Denied"
				relink(r, 2)
				return r, h
			},
			chained: 5,
			want:    []finding{{FindingHeadMismatch, []string{"r5"}, "the head seals sequence 5 with digest"}},
		},
		"the newest records deleted and the head's copy with them": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				h.Newest = nil
				return without(r, "r4", "r5"), h
			},
			chained: 3,
			want:    []finding{{FindingHeadMismatch, nil, "the head is at sequence 5, and no record has it: the history up to it was truncated"}},
		},
		"the newest records deleted": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				return without(r, "r4", "r5"), h
			},
			chained: 3,
			want:    []finding{{FindingGap, []string{"r3", "r5"}, "sequence 4 missing between record r3 (sequence 3) and record r5 (sequence 5)"}},
			notes:   []string{"record r5 (sequence 5, the newest) is held by the head and not stored"},
		},
		"the newest record written ahead and not stored yet": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				return without(r, "r5"), h
			},
			chained: 4,
			notes:   []string{"record r5 (sequence 5, the newest) is held by the head and not stored: written ahead"},
		},
		"a head whose copy of the newest record was changed": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				h.Newest.Spec.Reason = "Forged"
				return r, h
			},
			chained: 5,
			want:    []finding{{FindingHeadMismatch, []string{"r5"}, "the head's copy of its newest record r5 does not match"}},
		},
		"a record appended after the head": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				extra := *r[4].DeepCopy()
				extra.Name, extra.Spec.Message = "r6", "appended"
				Link(&extra, HeadOf(&r[4]))
				return append(r, extra), h
			},
			chained: 6,
			want:    []finding{{FindingUnanchored, []string{"r6"}, "record r6 (sequence 6) is beyond the head (sequence 5)"}},
		},
		"chained records without a head": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, _ *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				return r, nil
			},
			chained: 5,
			want:    []finding{{FindingUnanchored, nil, "5 chained record(s) and no RecordChain"}},
		},
		"the oldest records pruned past their retention": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				return without(r, "r1", "r2"), h
			},
			now:     t0.Add(year + 2*time.Hour), // r2's retention has passed, r3's has not
			chained: 3,
			notes:   []string{"sequences 1-2, before record r3, were pruned past their retention"},
		},
		"the oldest records deleted before their retention": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				return without(r, "r1", "r2"), h
			},
			now:     t0.Add(year + time.Hour), // r1's retention has passed, r2's has not
			chained: 3,
			want:    []finding{{FindingGap, []string{"r3"}, "sequences 1-2, before record r3, are missing, and sequence 2 was retained until 2027-12-01T14:00:00Z: deleted before its retention"}},
		},
		"every record pruned past its retention": {
			tamper: func(r []recordsv1alpha1.DecisionRecord, h *Head) ([]recordsv1alpha1.DecisionRecord, *Head) {
				return nil, h
			},
			now:   t0.Add(2 * year),
			notes: []string{"record r5 (sequence 5, the newest) was pruned past its retention", "sequences 1-4, before record r5, were pruned past their retention"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			records, head := chainOf(5, year)
			if tt.tamper != nil {
				records, head = tt.tamper(records, head)
			}
			at := now
			if !tt.now.IsZero() {
				at = tt.now
			}
			v := Verify(records, head, at)
			if v.Chained != tt.chained {
				t.Errorf("chained = %d, want %d", v.Chained, tt.chained)
			}
			if !slices.Equal(v.Unchained, tt.unchained) {
				t.Errorf("unchained = %v, want %v", v.Unchained, tt.unchained)
			}
			if len(v.Findings) != len(tt.want) {
				t.Fatalf("findings:\n%s\nwant %d", findingsText(v.Findings), len(tt.want))
			}
			for i, w := range tt.want {
				f := v.Findings[i]
				if f.Kind != w.kind || !slices.Equal(f.Records, w.records) || !strings.Contains(f.Message, w.text) {
					t.Errorf("finding %d = %s (records %v), want %s naming %v: %q", i, f, f.Records, w.kind, w.records, w.text)
				}
			}
			if v.Verified() != (len(tt.want) == 0) {
				t.Errorf("Verified() = %v with findings %v", v.Verified(), v.Findings)
			}
			if len(v.Notes) != len(tt.notes) {
				t.Fatalf("notes %q, want %q", v.Notes, tt.notes)
			}
			for i, n := range tt.notes {
				if !strings.Contains(v.Notes[i], n) {
					t.Errorf("note %d = %q, want it to contain %q", i, v.Notes[i], n)
				}
			}
		})
	}
}

func findingsText(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %v\n", f, f.Records)
	}
	return b.String()
}

// TestADigestCoversTheWholeRecord: any change to a record's namespace, name or
// spec (its chain included, its own digest excepted) changes its digest; its
// labels do not.
func TestADigestCoversTheWholeRecord(t *testing.T) {
	records, _ := chainOf(2, year)
	base := records[1]
	want := Digest(&base)
	if want != base.Spec.Chain.Digest {
		t.Fatalf("Link stored digest %s, Digest computes %s", base.Spec.Chain.Digest, want)
	}
	for name, change := range map[string]func(r *recordsv1alpha1.DecisionRecord){
		"namespace":   func(r *recordsv1alpha1.DecisionRecord) { r.Namespace = "other" },
		"name":        func(r *recordsv1alpha1.DecisionRecord) { r.Name = "other" },
		"actor":       func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Actor = "other" },
		"time":        func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Time = metav1.NewTime(r.Spec.Time.Add(time.Second)) },
		"retainUntil": func(r *recordsv1alpha1.DecisionRecord) { r.Spec.RetainUntil = metav1.NewTime(t0) },
		"evidence": func(r *recordsv1alpha1.DecisionRecord) {
			r.Spec.Evidence = []recordsv1alpha1.EvidenceValue{{Metric: "m", Value: "1"}}
		},
		"chain.sequence":      func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Chain.Sequence++ },
		"chain.previous":      func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Chain.Previous = "" },
		"previousRetainUntil": func(r *recordsv1alpha1.DecisionRecord) { r.Spec.Chain.PreviousRetainUntil = nil },
	} {
		r := base.DeepCopy()
		change(r)
		if Digest(r) == want {
			t.Errorf("changing the %s leaves the digest as it was", name)
		}
	}
	same := base.DeepCopy()
	same.Labels = map[string]string{"any": "label"}
	same.Spec.Chain.Digest = ""
	same.Spec.Time = metav1.NewTime(same.Spec.Time.Add(300 * time.Millisecond)) // the API keeps seconds
	if Digest(same) != want {
		t.Error("labels, the digest itself or sub-second time changed the digest")
	}
}

// TestAChainIsPrunedOldestFirst: a record past its retention is pruned only
// once every record before it in its chain is past its own, so the records
// missing from a chain are always its oldest; records of other chains, and
// records made before chaining, are pruned on their own.
func TestAChainIsPrunedOldestFirst(t *testing.T) {
	records, _ := chainOf(4, year)
	// r3's retention is shorter (recordRetention was lowered before it was made).
	records[2].Spec.RetainUntil = metav1.NewTime(t0)
	other, _ := chainOf(1, time.Hour)
	other[0].Spec.Partner = "initech"
	old := *records[0].DeepCopy()
	old.Name, old.Spec.Chain, old.Spec.RetainUntil = "before", nil, metav1.NewTime(t0)
	all := append(append(records, other...), old)

	names := func(now time.Time) []string {
		floor := map[ChainKey]int64{}
		// Two pages, as the pruner lists them.
		Retained(floor, all[:3], now)
		Retained(floor, all[3:], now)
		var out []string
		for _, page := range [][]recordsv1alpha1.DecisionRecord{all[:3], all[3:]} {
			for _, r := range Prunable(page, floor, now) {
				out = append(out, r.Spec.Partner+"/"+r.Name)
			}
		}
		return out
	}
	if got, want := names(t0.Add(3*time.Hour)), []string{"initech/r1", "acme/before"}; !slices.Equal(got, want) {
		t.Errorf("before r1's retention: pruned %v, want %v (r3 waits for r1 and r2)", got, want)
	}
	if got, want := names(t0.Add(year+1*time.Hour)), []string{"acme/r1", "initech/r1", "acme/before"}; !slices.Equal(got, want) {
		t.Errorf("after r1's retention: pruned %v, want %v", got, want)
	}
	if got, want := names(t0.Add(year+2*time.Hour)), []string{"acme/r1", "acme/r2", "acme/r3", "initech/r1", "acme/before"}; !slices.Equal(got, want) {
		t.Errorf("after r2's retention: pruned %v, want %v (r3 no longer waits)", got, want)
	}
}

func TestARecordUnderTheNameOfAnotherDecisionIsNotThatDecision(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	base := recordsv1alpha1.DecisionRecord{Spec: recordsv1alpha1.DecisionRecordSpec{
		Type: recordsv1alpha1.DecisionDealTransition, Partner: "acme", Time: at, Actor: "controller", Reason: "Approved",
		From: "Submitted", To: "Approved", Subject: recordsv1alpha1.DecisionSubject{Kind: "DealRegistration", Name: "d1", UID: "u1"},
		Message: "auto-approved", RetainUntil: metav1.NewTime(at.Add(time.Hour)),
	}}
	for name, tc := range map[string]struct {
		edit func(s *recordsv1alpha1.DecisionRecordSpec)
		same bool
	}{
		"the same decision":          {func(*recordsv1alpha1.DecisionRecordSpec) {}, true},
		"worded differently":         {func(s *recordsv1alpha1.DecisionRecordSpec) { s.Message = "approved" }, true},
		"kept for another retention": {func(s *recordsv1alpha1.DecisionRecordSpec) { s.RetainUntil = metav1.NewTime(at.Add(2 * time.Hour)) }, true},
		"chained, the other not":     {func(s *recordsv1alpha1.DecisionRecordSpec) { s.Chain = &recordsv1alpha1.ChainLink{Sequence: 3} }, true},
		"another outcome":            {func(s *recordsv1alpha1.DecisionRecordSpec) { s.To, s.Reason = "Rejected", "Rejected" }, false},
		"another actor":              {func(s *recordsv1alpha1.DecisionRecordSpec) { s.Actor = "someone" }, false},
		"another time":               {func(s *recordsv1alpha1.DecisionRecordSpec) { s.Time = metav1.NewTime(at.Add(time.Second)) }, false},
		"another subject":            {func(s *recordsv1alpha1.DecisionRecordSpec) { s.Subject.UID = "u2" }, false},
		"another partner":            {func(s *recordsv1alpha1.DecisionRecordSpec) { s.Partner = "globex" }, false},
		"another type":               {func(s *recordsv1alpha1.DecisionRecordSpec) { s.Type = recordsv1alpha1.DecisionTierChange }, false},
		"another request or stage":   {func(s *recordsv1alpha1.DecisionRecordSpec) { s.Stage = "finance" }, false},
	} {
		t.Run(name, func(t *testing.T) {
			stored := base.DeepCopy()
			tc.edit(&stored.Spec)
			if got := SameDecision(stored, &base); got != tc.same {
				t.Errorf("SameDecision = %v, want %v", got, tc.same)
			}
		})
	}
}
