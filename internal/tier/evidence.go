package tier

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// evidence sorts a partner's reported entries into those that count, those that are
// stale and those that are ignored.
type evidence struct {
	// counted holds, by metric, the entries that count towards qualification.
	counted map[string]countedEntry
	// stale entries are trusted but older than their metric's freshness window,
	// sorted by metric.
	stale []staleEntry
	// ignored entries are not in the catalog, not trusted or not a number, sorted by metric.
	ignored []ignoredEntry
}

// countedEntry is an entry that counts, and when it stops counting.
type countedEntry struct {
	v1alpha1.EvidenceEntry
	staleAt time.Time
}

// staleEntry names a metric whose evidence went stale, and when.
type staleEntry struct {
	metric string
	at     time.Time
}

// ignoredEntry names a metric whose evidence is ignored, and why.
type ignoredEntry struct {
	metric string
	why    string
}

// sortEvidence applies rule 1: an entry counts when its metric is in the catalog, the
// rule that admitted it is still trusted, its value is a decimal number and
// now < observedAt + freshnessWindow.
func sortEvidence(entries, computed []v1alpha1.EvidenceEntry, catalog map[string]v1alpha1.MetricDefinition, now time.Time, sealed func(v1alpha1.EvidenceEntry) bool) evidence {
	ev := evidence{counted: make(map[string]countedEntry, len(entries)+len(computed))}
	for _, e := range computed { // computed now from won deals: current, and never stale
		if def, ok := catalog[e.Metric]; ok && def.Source == v1alpha1.MetricSourceDeals && parses(e.Value) {
			ev.counted[e.Metric] = countedEntry{EvidenceEntry: e}
		}
	}
	for _, e := range entries {
		def, inCatalog := catalog[e.Metric]
		switch {
		case inCatalog && def.Source == v1alpha1.MetricSourceDeals:
			ev.ignore(e, "is computed by partnergov from won deals (source Deals); a reported value does not count")
		case !sealed(e):
			ev.ignore(e, "is not sealed by the admission webhook (it was written past it)")
		case !inCatalog:
			ev.ignore(e, "is not in the catalog")
		case !StillTrusted(def, e.TrustedVia):
			ev.ignore(e, "is no longer trusted by the catalog")
		case !parses(e.Value):
			ev.ignore(e, fmt.Sprintf("has value %q, which is not a decimal number", string(e.Value)))
		default:
			ev.consider(e, StaleAt(def, e.ObservedAt.Time), now)
		}
	}
	slices.SortFunc(ev.stale, func(a, b staleEntry) int {
		return cmp.Or(cmp.Compare(a.metric, b.metric), a.at.Compare(b.at))
	})
	slices.SortFunc(ev.ignored, func(a, b ignoredEntry) int {
		return cmp.Or(cmp.Compare(a.metric, b.metric), cmp.Compare(a.why, b.why))
	})
	return ev
}

// ignore records an entry that does not count and why, naming its reporter.
func (ev *evidence) ignore(e v1alpha1.EvidenceEntry, problem string) {
	source := e.Source
	if source == "" {
		source = "an unrecorded identity"
	}
	ev.ignored = append(ev.ignored, ignoredEntry{
		metric: e.Metric,
		why:    fmt.Sprintf("metric %s reported by %s %s", e.Metric, source, problem),
	})
}

// consider counts a trusted entry if it is still fresh at now. Should a metric have
// several fresh entries, the most recently observed one counts.
func (ev *evidence) consider(e v1alpha1.EvidenceEntry, staleAt, now time.Time) {
	if !now.Before(staleAt) {
		ev.stale = append(ev.stale, staleEntry{metric: e.Metric, at: staleAt})
		return
	}
	if prev, found := ev.counted[e.Metric]; found && !e.ObservedAt.After(prev.ObservedAt.Time) {
		return
	}
	ev.counted[e.Metric] = countedEntry{EvidenceEntry: e, staleAt: staleAt}
}

// staleSince is when metric's newest stale entry went stale, if it has one.
func (ev evidence) staleSince(metric string) (time.Time, bool) {
	var at time.Time
	found := false
	for _, s := range ev.stale {
		if s.metric == metric && (!found || s.at.After(at)) {
			at, found = s.at, true
		}
	}
	return at, found
}

// valuesFor returns the counted values of the metrics that reqs name, sorted by
// metric, as a decision record keeps them. Metrics without counted evidence are left out.
func (ev evidence) valuesFor(reqs []v1alpha1.TierRequirement) []v1alpha1.EvidenceValue {
	var out []v1alpha1.EvidenceValue
	for _, req := range reqs {
		entry, found := ev.counted[req.Metric]
		if !found || slices.ContainsFunc(out, func(v v1alpha1.EvidenceValue) bool { return v.Metric == req.Metric }) {
			continue
		}
		observed := *entry.ObservedAt.DeepCopy()
		out = append(out, v1alpha1.EvidenceValue{Metric: req.Metric, Value: entry.Value, ObservedAt: &observed})
	}
	slices.SortFunc(out, func(a, b v1alpha1.EvidenceValue) int { return cmp.Compare(a.Metric, b.Metric) })
	return out
}

func parses(d v1alpha1.Decimal) bool {
	_, err := decimal.Parse(d)
	return err == nil
}
