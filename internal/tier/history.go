package tier

import (
	"slices"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
)

// Present is the rule "a Partner carries only its present" (issue 28): past
// decisions live in DecisionRecords, so of history (partner p's, with this
// evaluation's decision appended) status.history keeps only what the next
// decision reads:
//
//   - the newest decision (it explains the stored tier: TierExplained, and
//     shows the history is not behind its records: StatusBehindRecords);
//   - every decision not recorded yet: from recorded on, the newest recorded
//     one (RecordedIndex; the recorder makes records from status.history).
//     The decision recorded names stays too: the partner's RecordChain names
//     it as soon as its record is written ahead in the head, before the
//     record is created; the chain moves past a record only once it exists,
//     so the decisions before it are recorded;
//   - while a TierPromotion grant of promotions is active, the decisions from
//     the one that applied it on: its applied and spent marks are read back
//     from them (promotionMarks), so a status that lost the spent mark does
//     not promote again.
//
// A decision counts only right after its predecessor, so what is kept is the
// history from the oldest of these on; its oldest entry must verify alone
// (seal.Keys.TierSealed: one sealed before decisions carried previousSeal
// keeps its predecessor). At most v1alpha1.MaxHistory are kept (TrimWaitsFor
// holds a decision that would drop one not recorded yet).
//
// Without recorded, or when history does not hold the decision it names
// (sealed), nothing in history is known to be recorded (records not made
// yet, the records store down, a history behind its records): the newest
// v1alpha1.MaxHistory are kept, as before.
func Present(seals *seal.Keys, p *v1alpha1.Partner, history []v1alpha1.TierDecision, recorded *v1alpha1.RecordedDecision, promotions []Grant) []v1alpha1.TierDecision {
	n := len(history)
	start := max(0, n-v1alpha1.MaxHistory)
	r := RecordedIndex(seals, p, history, recorded)
	if r < 0 {
		return history[start:]
	}
	keep := min(r, n-1) // the decisions before r are recorded; the newest stays
	for _, g := range promotions {
		if i := slices.IndexFunc(history, func(d v1alpha1.TierDecision) bool {
			return d.Request == g.Request && d.Reason == v1alpha1.ReasonPromoted && d.To == g.Tier
		}); i >= 0 {
			keep = min(keep, i)
		}
	}
	uid := string(p.UID)
	for keep > 0 && seals.TierSealed(uid, history, keep) && !seals.TierSealed(uid, history[keep:], 0) {
		keep--
	}
	start = max(start, keep)
	if start == 0 {
		return history
	}
	return append([]v1alpha1.TierDecision(nil), history[start:]...)
}

// RecordedIndex returns the index in history (partner p's) of the decision
// recorded names, sealed in its place; -1 when history holds none (recorded
// nil, or another partner's of the same name). The decisions before it are
// recorded: the recorder records a partner's decisions oldest first, and the
// chain names a decision once its record is written ahead, before it is
// created, and moves on only once it exists.
func RecordedIndex(seals *seal.Keys, p *v1alpha1.Partner, history []v1alpha1.TierDecision, recorded *v1alpha1.RecordedDecision) int {
	if recorded == nil || (recorded.SubjectUID != "" && recorded.SubjectUID != string(p.UID)) {
		return -1
	}
	for i := len(history) - 1; i >= 0; i-- {
		if record.TierChangeName(p, history[i]) == recorded.Name && seals.TierSealed(string(p.UID), history, i) {
			return i
		}
	}
	return -1
}

// TrimWaitsFor is the rule that keeps a long outage of the records store from
// losing tier records. status.history keeps the newest v1alpha1.MaxHistory
// decisions, and it is the only copy of a decision whose record is not made
// yet: the recorder makes records from the stored history, oldest first. So a
// new decision whose history (next) no longer holds a stored decision that is
// to be recorded (recordable(i) for stored[i]: sealed, within the program's
// record retention) may be written only once that decision's record exists.
//
// A decision before the newest recorded one (RecordedIndex), which Present
// drops, is recorded already: the caller's recordable says no for it
// (NotYetRecorded).
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

// NotYetRecorded narrows recordable (for TrimWaitsFor) to the decisions of
// stored (partner p's) from the newest recorded one on, recorded
// (RecordedIndex): those before it have their records, and Present dropping
// them waits for nothing (its own record may be only written ahead).
func NotYetRecorded(seals *seal.Keys, p *v1alpha1.Partner, stored []v1alpha1.TierDecision, recorded *v1alpha1.RecordedDecision, recordable func(i int) bool) func(i int) bool {
	r := RecordedIndex(seals, p, stored, recorded)
	return func(i int) bool { return i >= r && recordable(i) }
}
