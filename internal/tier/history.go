package tier

import (
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// TrimWaitsFor is the rule that keeps a long outage of the records store from
// losing tier records. status.history keeps the newest v1alpha1.MaxHistory
// decisions, and it is the only copy of a decision whose record is not made
// yet: the recorder makes records from the stored history, oldest first. So a
// new decision whose history (next) no longer holds a stored decision that is
// to be recorded (recordable(i) for stored[i]: sealed, within the program's
// record retention) may be written only once that decision's record exists.
//
// TrimWaitsFor returns -1 when next drops no recordable decision of stored.
// Otherwise it returns the index in stored of the newest recordable decision
// stored holds: its record existing is what lets the decision be written, since
// the recorder creates a partner's records oldest first (when the newest one
// exists, so do the ones it trims), and it is the record the recorder makes
// last, so waiting for it never waits for a record the recorder will not make
// (an older record pruned or deleted is made again only with the newest).
func TrimWaitsFor(stored, next []v1alpha1.TierDecision, recordable func(i int) bool) int {
	// Most writes trim nothing: recordable (a seal check) is asked only when
	// something is trimmed.
	kept := make(map[decisionKey]bool, len(next))
	for _, d := range next {
		kept[keyOf(d)] = true
	}
	drops := false
	for i, d := range stored {
		if !kept[keyOf(d)] && recordable(i) {
			drops = true
			break
		}
	}
	if !drops {
		return -1
	}
	for i := len(stored) - 1; ; i-- {
		if recordable(i) {
			return i
		}
	}
}

// decisionKey identifies a stored decision (its record's name derives from the same fields).
type decisionKey struct {
	time             time.Time
	from, to, reason string
	sequence         int64
}

func keyOf(d v1alpha1.TierDecision) decisionKey {
	return decisionKey{time: d.Time.UTC(), from: d.From, to: d.To, reason: d.Reason, sequence: d.Sequence}
}
