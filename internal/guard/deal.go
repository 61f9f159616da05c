package guard

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

// DealStatus checks a write to dealregistrations/status. The controller writes
// the registration's standing and never the outcome; the program's CRM
// integration (crm, spec.dealRegistration.crmReporters) reports the outcome once,
// stamped with its identity, and writes nothing else; nobody else writes. It
// returns the status to store, or a refusal.
func DealStatus(old, updated *v1alpha1.DealRegistration, w Writer, crm v1alpha1.Identities) (*v1alpha1.DealRegistrationStatus, *Refusal) {
	out := updated.Status.DeepCopy()
	if w.Controller {
		if !equality.Semantic.DeepEqual(old.Status.Outcome, updated.Status.Outcome) {
			return nil, refuse("the controller does not write a deal's outcome: the program's CRM integration reports it")
		}
		return out, nil
	}
	if _, ok := tier.Matches(crm, w.Username, w.Groups); !ok {
		return nil, refuse("%s may not write the status of DealRegistration %s/%s: the partnergov controller decides a registration's standing, and only the program's spec.dealRegistration.crmReporters report its outcome",
			w.Username, old.Namespace, old.Name)
	}
	if fields := changedFields(old.Status, updated.Status, "outcome"); len(fields) > 0 {
		return nil, refuse("%s may not change %s of DealRegistration %s/%s: the CRM integration reports status.outcome only",
			w.Username, strings.Join(fields, ", "), old.Namespace, old.Name)
	}
	switch {
	case updated.Status.Outcome == nil && old.Status.Outcome != nil:
		return nil, refuse("the outcome of DealRegistration %s/%s is reported and stays: attribution was computed from it", old.Namespace, old.Name)
	case updated.Status.Outcome == nil:
		return out, nil
	case old.Status.Outcome != nil:
		o := *updated.Status.Outcome
		o.ReportedBy = old.Status.Outcome.ReportedBy
		if !equality.Semantic.DeepEqual(*old.Status.Outcome, o) {
			return nil, refuse("the outcome of DealRegistration %s/%s was reported by %s and cannot change: attribution was computed from it",
				old.Namespace, old.Name, old.Status.Outcome.ReportedBy)
		}
		out.Outcome.ReportedBy = old.Status.Outcome.ReportedBy
		return out, nil
	}
	out.Outcome.ReportedBy = w.Username
	return out, nil
}
