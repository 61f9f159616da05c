// Package guard decides, without any cluster access, whether a write to a status
// subresource may be admitted: who may report which evidence, and who may change
// the fields only the controller computes. The admission webhooks are thin
// wrappers around it.
package guard

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/offboarding"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// MaxClockSkew is how far in the future an evidence observation may lie.
const MaxClockSkew = 5 * time.Minute

// Writer is the authenticated identity of a status write.
type Writer struct {
	Username string
	Groups   []string
	// Controller is true when the writer is partnergov's own controller.
	Controller bool
	// Seals seal what the guard stamps; nil when sealing is off.
	Seals *seal.Keys
}

// Refusal explains why a write is refused; it is returned as 403 Forbidden.
type Refusal struct{ Message string }

func (r *Refusal) Error() string { return r.Message }

func refuse(format string, args ...any) *Refusal {
	return &Refusal{Message: fmt.Sprintf(format, args...)}
}

// PartnerStatus checks a write to partners/status and stamps each new or changed
// evidence entry with its reporter (source) and the catalog rule that trusts it
// (trustedVia). It returns the status to store, or a refusal. Only the status of
// updated is read: a status write cannot change spec or metadata, so everything
// else comes from old, the stored object. program is the program old names, nil
// when it does not exist.
func PartnerStatus(old, updated *v1alpha1.Partner, program *v1alpha1.PartnerProgram, w Writer, now time.Time) (*v1alpha1.PartnerStatus, *Refusal) {
	oldStatus := old.Status
	if why := offboarding.EvidenceRefusal(old, w.Username, now); why != "" && !w.Controller {
		return nil, refuse("%s", why)
	}
	if !w.Controller {
		if fields := changedFields(oldStatus, updated.Status, "evidence"); len(fields) > 0 {
			return nil, refuse("%s may not change %s of Partner %s/%s: only the partnergov controller computes them from evidence",
				w.Username, strings.Join(fields, ", "), old.Namespace, old.Name)
		}
	}
	out := updated.Status.DeepCopy()
	catalog := catalogOf(program)
	oldEntries := map[string]v1alpha1.EvidenceEntry{}
	for _, e := range oldStatus.Evidence {
		oldEntries[e.Metric] = e
	}
	for i := range out.Evidence {
		e := &out.Evidence[i]
		prev, existed := oldEntries[e.Metric]
		delete(oldEntries, e.Metric)
		if existed && prev.Value == e.Value && prev.ObservedAt.Equal(&e.ObservedAt) {
			// Unchanged report: keep who reported it, whatever the write says.
			// Only the controller adopting state stored before sealing was on
			// may add a seal, and only one that verifies.
			e.Source, e.TrustedVia = prev.Source, prev.TrustedVia
			if !(w.Controller && w.Seals.On() && prev.Seal == "" && e.Seal != "" && w.Seals.Verify(e.Seal, seal.Evidence(string(old.UID), *e)...)) {
				e.Seal = prev.Seal
			}
			continue
		}
		if r := checkReport(e, prev, existed, program, catalog, w, now); r != nil {
			return nil, r
		}
		e.Seal = w.Seals.Sign(seal.Evidence(string(old.UID), *e)...)
	}
	for metric, prev := range oldEntries { // entries the write removes
		if !mayReplace(prev, program, catalog, w) {
			return nil, refuse("%s may not remove evidence %q of Partner %s/%s: it was reported by %s",
				w.Username, metric, old.Namespace, old.Name, prev.Source)
		}
	}
	return out, nil
}

// checkReport admits one new or changed evidence entry and stamps it.
func checkReport(e *v1alpha1.EvidenceEntry, prev v1alpha1.EvidenceEntry, existed bool, program *v1alpha1.PartnerProgram,
	catalog map[string]v1alpha1.MetricDefinition, w Writer, now time.Time) *Refusal {
	if program == nil {
		return refuse("evidence %q cannot be accepted: the partner's PartnerProgram does not exist", e.Metric)
	}
	def, known := catalog[e.Metric]
	if !known {
		return refuse("metric %q is not in the catalog of PartnerProgram %q; only catalog metrics count as evidence", e.Metric, program.Name)
	}
	if def.Source == v1alpha1.MetricSourceDeals {
		return refuse("metric %q of PartnerProgram %q is computed by partnergov from won deal registrations (source Deals): nobody reports it", e.Metric, program.Name)
	}
	via, ok := tier.Trusted(def, w.Username, w.Groups)
	if !ok {
		return refuse("%s is not trusted to report metric %q; PartnerProgram %q trusts %s", w.Username, e.Metric, program.Name, describe(def.TrustedReporters))
	}
	if existed && !mayReplace(prev, program, catalog, w) {
		return refuse("%s may not change evidence %q: it was reported by %s, who is still trusted for it", w.Username, e.Metric, prev.Source)
	}
	if e.ObservedAt.Time.After(now.Add(MaxClockSkew)) {
		return refuse("evidence %q has observedAt %s, in the future", e.Metric, e.ObservedAt.UTC().Format(time.RFC3339))
	}
	e.Source, e.TrustedVia = w.Username, via
	return nil
}

// mayReplace reports whether w may change or remove an entry someone reported:
// its own entries, and entries whose reporter the program's catalog no longer
// trusts (or whose metric it dropped). Without a program nothing is judged
// untrusted, so only the reporter may touch its entry.
func mayReplace(prev v1alpha1.EvidenceEntry, program *v1alpha1.PartnerProgram, catalog map[string]v1alpha1.MetricDefinition, w Writer) bool {
	if prev.Source == "" || prev.Source == w.Username {
		return true
	}
	if program == nil {
		return false
	}
	def, known := catalog[prev.Metric]
	return !known || !tier.StillTrusted(def, prev.TrustedVia)
}

func catalogOf(p *v1alpha1.PartnerProgram) map[string]v1alpha1.MetricDefinition {
	m := map[string]v1alpha1.MetricDefinition{}
	if p != nil {
		for _, d := range p.Spec.Metrics {
			m[d.Name] = d
		}
	}
	return m
}

// describe lists trusted reporters for a refusal message.
func describe(ids v1alpha1.Identities) string {
	var parts []string
	for _, u := range ids.Users {
		parts = append(parts, "user "+u)
	}
	for _, sa := range ids.ServiceAccounts {
		parts = append(parts, "service account "+sa.Namespace+"/"+sa.Name)
	}
	for _, g := range ids.Groups {
		parts = append(parts, "group "+g)
	}
	if len(parts) == 0 {
		return "nobody"
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
