package guard

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// DealStatus checks a write to dealregistrations/status. The controller writes
// the registration's standing and never the outcome nor an influence
// confirmation; the program's CRM integration (crm,
// spec.dealRegistration.crmReporters) reports the outcome once and confirms
// influence claims until then, each stamped with its identity and sealed
// (when sealing is on), and writes nothing else; nobody else writes. An
// outcome stored without a valid seal (written past the webhook) was never
// reported: the CRM may report the outcome over it. It returns the status to
// store, or a refusal.
func DealStatus(old, updated *v1alpha1.DealRegistration, w Writer, crm v1alpha1.Identities) (*v1alpha1.DealRegistrationStatus, *Refusal) {
	out := updated.Status.DeepCopy()
	uid := string(old.UID)
	if w.Controller {
		if !equality.Semantic.DeepEqual(old.Status.Outcome, updated.Status.Outcome) && !adoptsOutcome(old, updated, w) {
			return nil, refuse("the controller does not write a deal's outcome: the program's CRM integration reports it")
		}
		if !equality.Semantic.DeepEqual(old.Status.InfluenceConfirmations, updated.Status.InfluenceConfirmations) && !adoptsConfirmations(old, updated, w) {
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
	stored := old.Status.Outcome
	if stored != nil && !w.Seals.OutcomeSealed(old) {
		stored = nil // written past the webhook: never reported
	}
	var refusal *Refusal
	if out.InfluenceConfirmations, refusal = confirmations(old, updated, stored != nil, w); refusal != nil {
		return nil, refusal
	}
	switch {
	case updated.Status.Outcome == nil && stored != nil:
		return nil, refuse("the outcome of DealRegistration %s/%s is reported and stays: attribution was computed from it", old.Namespace, old.Name)
	case updated.Status.Outcome == nil:
		return out, nil
	case stored != nil:
		o := *updated.Status.Outcome
		o.ReportedBy, o.Seal = stored.ReportedBy, stored.Seal
		if !equality.Semantic.DeepEqual(*stored, o) {
			return nil, refuse("the outcome of DealRegistration %s/%s was reported by %s and cannot change: attribution was computed from it",
				old.Namespace, old.Name, stored.ReportedBy)
		}
		out.Outcome.ReportedBy, out.Outcome.Seal = stored.ReportedBy, stored.Seal
		return out, nil
	}
	out.Outcome.ReportedBy = w.Username
	out.Outcome.Seal = w.Seals.Sign(seal.Outcome(uid, *out.Outcome)...)
	return out, nil
}

// adoptsOutcome reports whether the controller's write only seals an outcome
// stored before sealing was on: it had no seal, nothing else changes, and the
// seal verifies.
func adoptsOutcome(old, updated *v1alpha1.DealRegistration, w Writer) bool {
	o, u := old.Status.Outcome, updated.Status.Outcome
	if !w.Seals.On() || o == nil || u == nil || o.Seal != "" || u.Seal == "" {
		return false
	}
	c := *u
	c.Seal = ""
	return equality.Semantic.DeepEqual(*o, c) && w.Seals.OutcomeSealed(updated)
}

// adoptsConfirmations reports whether the controller's write only seals
// influence confirmations stored before sealing was on.
func adoptsConfirmations(old, updated *v1alpha1.DealRegistration, w Writer) bool {
	o, u := old.Status.InfluenceConfirmations, updated.Status.InfluenceConfirmations
	if !w.Seals.On() || len(o) != len(u) {
		return false
	}
	for i := range o {
		if equality.Semantic.DeepEqual(o[i], u[i]) {
			continue
		}
		c := u[i]
		c.Seal = ""
		if o[i].Seal != "" || !equality.Semantic.DeepEqual(o[i], c) || !w.Seals.ConfirmationSealed(updated, u[i]) {
			return false
		}
	}
	return true
}

// confirmations are the influence confirmations to store: each one the CRM
// writes is stamped with its identity and sealed, one already stored keeps
// who confirmed it and its seal. Once the outcome is reported (reported) they
// are fixed: attribution was computed from them (a write that reports the
// outcome may carry them).
func confirmations(old, updated *v1alpha1.DealRegistration, reported bool, w Writer) ([]v1alpha1.InfluenceConfirmation, *Refusal) {
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
	if reported && !same(stored, updated.Status.InfluenceConfirmations) {
		return nil, refuse("the influence confirmations of DealRegistration %s/%s are fixed once its outcome is reported: attribution was computed from them",
			old.Namespace, old.Name)
	}
	var out []v1alpha1.InfluenceConfirmation
	for _, c := range updated.Status.InfluenceConfirmations {
		c.ConfirmedBy, c.Seal = w.Username, ""
		kept := false
		for _, s := range stored {
			// A stored confirmation keeps who confirmed it, unless its seal
			// does not verify (written past the webhook): then it is confirmed now.
			if equality.Semantic.DeepEqual(claim(s), claim(c)) && w.Seals.ConfirmationSealed(old, s) {
				c.ConfirmedBy, c.Seal, kept = s.ConfirmedBy, s.Seal, true
				break
			}
		}
		if !kept {
			c.Seal = w.Seals.Sign(seal.Confirmation(string(old.UID), c)...)
		}
		out = append(out, c)
	}
	return out, nil
}
