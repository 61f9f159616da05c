package guard

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// FuzzPartnerStatus decodes fuzzed old and new Partner objects as the webhook does
// and checks PartnerStatus's invariants: it does not panic, a writer other than
// the controller never gets back a status whose fields other than evidence differ
// from old, and every new or changed evidence entry it returns names the writer
// as its source.
func FuzzPartnerStatus(f *testing.F) {
	crmEntry := entry("revenue", "100", crm, "serviceaccount:integrations/crm-sync")
	lmsEntry := entry("training", "3", lms, "serviceaccount:integrations/lms-sync")
	seeds := []struct {
		old, new *v1alpha1.Partner
		writer   uint8
	}{
		{partner(), partner(entry("revenue", "100", "", "")), 0},                                // first report
		{partner(crmEntry), partner(entry("revenue", "200", "forged", "user:forged")), 0},       // update, forged stamps
		{partner(crmEntry), partner(entry("revenue", "200", "", "")), 1},                        // someone else's entry
		{partner(crmEntry, lmsEntry), partner(crmEntry), 1},                                     // removal of another's
		{partner(crmEntry), withTier(partner(crmEntry), "platinum"), 0},                         // computed field
		{withTier(partner(crmEntry), "gold"), withTier(partner(crmEntry, lmsEntry), "gold"), 1}, // tier kept
		{partner(crmEntry), withTier(partner(crmEntry), "gold"), 2},                             // the controller
		{partner(), partner(entry("karma", "1", "", "")), 3},                                    // unknown metric
	}
	for _, s := range seeds {
		oldJSON, err := json.Marshal(s.old)
		if err != nil {
			f.Fatal(err)
		}
		newJSON, err := json.Marshal(s.new)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(oldJSON, newJSON, s.writer, true)
	}
	f.Add([]byte(`{"status":{"evidence":[{"metric":"revenue","value":"1","observedAt":"2026-11-23T11:00:00Z","source":"x"}]}}`),
		[]byte(`{"status":{"evidence":[{"metric":"revenue","value":"1","observedAt":"2026-11-23T11:00:00Z"},{"metric":"revenue","value":"2","observedAt":"2026-11-23T11:00:00Z"}]}}`),
		uint8(0), false)
	f.Add([]byte(`{}`), []byte(`{"status":{"tierRank":0,"conditions":[]}}`), uint8(3), true)

	writers := []Writer{
		{Username: crm, Groups: []string{"system:serviceaccounts"}},
		{Username: lms},
		{Username: ctrlr, Controller: true},
		{Username: "someone@example.com", Groups: []string{"partnergov:crm"}},
	}

	f.Fuzz(func(t *testing.T, oldJSON, newJSON []byte, writer uint8, withProgram bool) {
		var old, updated v1alpha1.Partner
		if json.Unmarshal(oldJSON, &old) != nil || json.Unmarshal(newJSON, &updated) != nil {
			return
		}
		w := writers[int(writer)%len(writers)]
		var p *v1alpha1.PartnerProgram
		if withProgram {
			p = program()
		}
		oldCopy := old.DeepCopy()

		status, refusal := PartnerStatus(&old, &updated, p, w, now)

		if refusal != nil {
			if status != nil {
				t.Fatalf("refused (%s) but returned a status", refusal.Message)
			}
			return
		}
		if status == nil {
			t.Fatal("admitted without a status")
		}
		if !w.Controller {
			got, want := status.DeepCopy(), oldCopy.Status.DeepCopy()
			got.Evidence, want.Evidence = nil, nil
			if !equality.Semantic.DeepEqual(got, want) {
				t.Fatalf("%s changed fields other than evidence:\nold %+v\nnew %+v", w.Username, want, got)
			}
		}
		prev := map[string][]v1alpha1.EvidenceEntry{}
		for _, e := range oldCopy.Status.Evidence {
			prev[e.Metric] = append(prev[e.Metric], e)
		}
		for _, e := range status.Evidence {
			unchanged := false
			for _, o := range prev[e.Metric] {
				if o.Value == e.Value && o.ObservedAt.Equal(&e.ObservedAt) {
					unchanged = true
				}
			}
			if !unchanged && e.Source != w.Username {
				t.Fatalf("changed evidence %q (value %q) admitted with source %q, written by %q", e.Metric, e.Value, e.Source, w.Username)
			}
		}
	})
}
