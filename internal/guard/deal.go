package guard

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

// DealStatus checks a write to dealregistrations/status. The controller writes
// the registration's standing and never the outcome nor an influence
// confirmation; the program's CRM integration (crm,
// spec.dealRegistration.crmReporters) reports the outcome once and confirms
// influence claims until then, each stamped with its identity, and writes
// nothing else; nobody else writes. It returns the status to store, or a
// refusal.
func DealStatus(old, updated *v1alpha1.DealRegistration, w Writer, crm v1alpha1.Identities) (*v1alpha1.DealRegistrationStatus, *Refusal) {
	out := updated.Status.DeepCopy()
	if w.Controller {
		if !equality.Semantic.DeepEqual(old.Status.Outcome, updated.Status.Outcome) {
			return nil, refuse("the controller does not write a deal's outcome: the program's CRM integration reports it")
		}
		if !equality.Semantic.DeepEqual(old.Status.InfluenceConfirmations, updated.Status.InfluenceConfirmations) {
			return nil, refuse("the controller does not confirm influence (status.influenceConfirmations): the program's CRM integration does")
		}
		return out, nil
	}
	if _, ok := tier.Matches(crm, w.Username, w.Groups); !ok {
		return nil, refuse("%s may not write the status of DealRegistration %s/%s: the partnergov controller decides a registration's standing, and only the program's spec.dealRegistration.crmReporters report its outcome",
			w.Username, old.Namespace, old.Name)
	}
	if fields := changedFields(old.Status, updated.Status, "outcome", "influenceConfirmations"); len(fields) > 0 {
		return nil, refuse("%s may not change %s of DealRegistration %s/%s: the CRM integration reports status.outcome and status.influenceConfirmations only",
			w.Username, strings.Join(fields, ", "), old.Namespace, old.Name)
	}
	var refusal *Refusal
	if out.InfluenceConfirmations, refusal = confirmations(old, updated, w); refusal != nil {
		return nil, refusal
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

// confirmations are the influence confirmations to store: each one the CRM
// writes is stamped with its identity, one already stored keeps who confirmed
// it. Once the outcome is reported they are fixed: attribution was computed
// from them (a write that reports the outcome may carry them).
func confirmations(old, updated *v1alpha1.DealRegistration, w Writer) ([]v1alpha1.InfluenceConfirmation, *Refusal) {
	stored := old.Status.InfluenceConfirmations
	claim := func(c v1alpha1.InfluenceConfirmation) v1alpha1.Influencer { return c.Influencer }
	same := func(a, b []v1alpha1.InfluenceConfirmation) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equality.Semantic.DeepEqual(claim(a[i]), claim(b[i])) {
				return false
			}
		}
		return true
	}
	if old.Status.Outcome != nil && !same(stored, updated.Status.InfluenceConfirmations) {
		return nil, refuse("the influence confirmations of DealRegistration %s/%s are fixed once its outcome is reported: attribution was computed from them",
			old.Namespace, old.Name)
	}
	var out []v1alpha1.InfluenceConfirmation
	for _, c := range updated.Status.InfluenceConfirmations {
		c.ConfirmedBy = w.Username
		for _, s := range stored {
			if equality.Semantic.DeepEqual(claim(s), claim(c)) {
				c.ConfirmedBy = s.ConfirmedBy
				break
			}
		}
		out = append(out, c)
	}
	return out, nil
}
