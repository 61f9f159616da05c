package guard

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

// ListingStatus checks a write to listings/status. Adoption figures
// (status.usage) may be reported, changed or removed only by the partner's own
// integration or the program's marketplaceReporters, and are stamped with the
// reporter; the rest is the controller's. Only the status of updated is read;
// the partner comes from old, the stored object. program is the program of that
// partner, nil when it does not exist.
func ListingStatus(old, updated *v1alpha1.Listing, program *v1alpha1.PartnerProgram, w Writer) (*v1alpha1.ListingStatus, *Refusal) {
	usageChanged := !equality.Semantic.DeepEqual(old.Status.Usage, updated.Status.Usage)
	if w.Controller {
		if usageChanged {
			return nil, refuse("the controller does not report listing usage")
		}
		return updated.Status.DeepCopy(), nil
	}
	if fields := changedFields(old.Status, updated.Status, "usage"); len(fields) > 0 {
		return nil, refuse("%s may not change %s of Listing %s/%s: only the partnergov controller computes them",
			w.Username, strings.Join(fields, ", "), old.Namespace, old.Name)
	}
	out := updated.Status.DeepCopy()
	if !usageChanged {
		return out, nil
	}
	integration := "system:serviceaccount:" + old.Namespace + ":" + v1alpha1.IntegrationName(old.Spec.Partner)
	var marketplace v1alpha1.Identities
	if program != nil {
		marketplace = program.Spec.MarketplaceReporters
	}
	_, trusted := tier.Trusted(v1alpha1.MetricDefinition{TrustedReporters: marketplace}, w.Username, w.Groups)
	if w.Username != integration && !trusted {
		return nil, refuse("%s may not report usage of Listing %s/%s: only partner %s's integration (%s) or the program's marketplaceReporters may",
			w.Username, old.Namespace, old.Name, old.Spec.Partner, integration)
	}
	if out.Usage != nil {
		out.Usage.Source = w.Username
	}
	return out, nil
}
