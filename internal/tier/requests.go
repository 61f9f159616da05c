package tier

import "github.com/partnergov/partnergov/api/v1alpha1"

// GrantsFrom turns a partner's approved exception requests into the engine's
// grants; requests not approved are skipped. The controller and the
// `kubectl partnergov simulate` command share it.
func GrantsFrom(requests []v1alpha1.ExceptionRequest) []Grant {
	var out []Grant
	for _, req := range requests {
		if req.Status.Phase != v1alpha1.PhaseApproved {
			continue
		}
		g := Grant{Request: req.Name, Type: req.Spec.Type}
		if req.Spec.Grant != nil {
			g.Tier, g.Entitlements = req.Spec.Grant.Tier, req.Spec.Grant.Entitlements
		}
		if req.Spec.Expires != nil {
			t := req.Spec.Expires.Time
			g.Expires = &t
		}
		out = append(out, g)
	}
	return out
}
