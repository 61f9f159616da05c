package tier

import (
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// TestATrimWaitsForTheRecordsOfTheDecisionsItDrops: a decision whose history
// trims a decision still to be recorded waits for the record of the newest
// recordable decision stored; one that trims nothing, or only decisions that
// are never recorded (unsealed, past retention), does not wait.
func TestATrimWaitsForTheRecordsOfTheDecisionsItDrops(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	decisions := func(from, n int) []v1alpha1.TierDecision {
		var out []v1alpha1.TierDecision
		for i := from; i < from+n; i++ {
			out = append(out, v1alpha1.TierDecision{Time: metav1.NewTime(base.Add(time.Duration(i) * time.Minute)), From: "a" + strconv.Itoa(i), To: "b", Reason: "r", Sequence: int64(i + 1)})
		}
		return out
	}
	full := decisions(0, v1alpha1.MaxHistory)
	// next: the stored history with one more decision appended, trimmed as appendHistory trims.
	next := appendHistory(append([]v1alpha1.TierDecision(nil), full...), decisions(v1alpha1.MaxHistory, 1)[0])
	all := func(int) bool { return true }
	for name, tc := range map[string]struct {
		stored, next []v1alpha1.TierDecision
		recordable   func(int) bool
		want         int
	}{
		"a decision that trims nothing does not wait": {
			stored: decisions(0, 5), next: decisions(0, 6), recordable: all, want: -1,
		},
		"the first decision does not wait": {
			stored: nil, next: decisions(0, 1), recordable: all, want: -1,
		},
		"a decision that trims a recordable one waits for the newest stored record": {
			stored: full, next: next, recordable: all, want: v1alpha1.MaxHistory - 1,
		},
		"the newest recordable one, not an unsealed newest": {
			stored: full, next: next, recordable: func(i int) bool { return i < 7 }, want: 6,
		},
		"trimming only decisions never recorded does not wait": {
			stored: full, next: next, recordable: func(i int) bool { return i > 0 }, want: -1,
		},
		"a status write without a new decision does not wait": {
			stored: full, next: full, recordable: all, want: -1,
		},
		"an entry rewritten in place counts as dropped": {
			stored: decisions(0, 3), next: func() []v1alpha1.TierDecision {
				d := decisions(0, 3)
				d[0].Reason = "other"
				return d
			}(), recordable: all, want: 2,
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got := TrimWaitsFor(tc.stored, tc.next, tc.recordable); got != tc.want {
				t.Errorf("TrimWaitsFor = %d, want %d", got, tc.want)
			}
		})
	}
}
