package guard

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

// ListingStatus checks a write to listings/status. Adoption figures
// (status.usage) may come only from the partner's own integration or from the
// program's marketplaceReporters, and are stamped with the reporter; the rest is
// the controller's. program is nil when it does not exist.
func ListingStatus(old, updated *v1alpha1.Listing, program *v1alpha1.PartnerProgram, w Writer) (*v1alpha1.ListingStatus, *Refusal) {
	usageChanged := !equality.Semantic.DeepEqual(old.Status.Usage, updated.Status.Usage)
	if w.Controller {
		if usageChanged {
			return nil, refuse("the controller does not report listing usage")
		}
		return updated.Status.DeepCopy(), nil
	}
	if fields := listingFieldsChanged(old.Status, updated.Status); len(fields) > 0 {
		return nil, refuse("%s may not change %s of Listing %s/%s: only the partnergov controller computes them",
			w.Username, strings.Join(fields, ", "), updated.Namespace, updated.Name)
	}
	out := updated.Status.DeepCopy()
	if !usageChanged || out.Usage == nil {
		return out, nil
	}
	integration := "system:serviceaccount:" + updated.Namespace + ":" + v1alpha1.IntegrationName(updated.Spec.Partner)
	var marketplace v1alpha1.Identities
	if program != nil {
		marketplace = program.Spec.MarketplaceReporters
	}
	_, trusted := tier.Trusted(v1alpha1.MetricDefinition{TrustedReporters: marketplace}, w.Username, w.Groups)
	if w.Username != integration && !trusted {
		return nil, refuse("%s may not report usage of Listing %s/%s: only partner %s's integration (%s) or the program's marketplaceReporters may",
			w.Username, updated.Namespace, updated.Name, updated.Spec.Partner, integration)
	}
	out.Usage.Source = w.Username
	return out, nil
}

// listingFieldsChanged lists the status fields, other than usage, that differ.
func listingFieldsChanged(old, updated v1alpha1.ListingStatus) []string {
	old.Usage, updated.Usage = nil, nil
	if equality.Semantic.DeepEqual(old, updated) {
		return nil
	}
	var changed []string
	check := func(name string, a, b any) {
		if !equality.Semantic.DeepEqual(a, b) {
			changed = append(changed, "status."+name)
		}
	}
	check("observedGeneration", old.ObservedGeneration, updated.ObservedGeneration)
	check("publishedVersions", old.PublishedVersions, updated.PublishedVersions)
	check("latestVersion", old.LatestVersion, updated.LatestVersion)
	check("shownClaims", old.ShownClaims, updated.ShownClaims)
	check("shownClaimsSummary", old.ShownClaimsSummary, updated.ShownClaimsSummary)
	check("notices", old.Notices, updated.Notices)
	check("conditions", old.Conditions, updated.Conditions)
	return changed
}
