package tier

import (
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/seal"
)

// GrantsFrom turns a partner's approved exception requests into the engine's
// grants; requests whose approval does not count (effects.Approved: not
// approved, or, with sealing on, an Approved phase its sealed decisions do not
// explain) are skipped. The controller and the `kubectl partnergov simulate`
// command share it.
func GrantsFrom(requests []v1alpha1.ExceptionRequest, seals *seal.Keys) []Grant {
	var out []Grant
	for _, req := range requests {
		if !effects.Approved(&req, seals) {
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

// SamePartner reports whether request q was filed for partner p: the same name,
// and the same UID when the server recorded one. A new partner of an old name
// inherits nothing.
func SamePartner(q *v1alpha1.ExceptionRequest, p *v1alpha1.Partner) bool {
	return q.Spec.Partner == p.Name && (q.Spec.PartnerUID == "" || q.Spec.PartnerUID == string(p.UID))
}

// RequestsOf keeps the requests filed for partner p (SamePartner).
func RequestsOf(requests []v1alpha1.ExceptionRequest, p *v1alpha1.Partner) []v1alpha1.ExceptionRequest {
	out := requests[:0:0]
	for _, q := range requests {
		if SamePartner(&q, p) {
			out = append(out, q)
		}
	}
	return out
}
