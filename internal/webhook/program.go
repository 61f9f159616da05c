package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/tier"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-partnerprogram,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partnerprograms,verbs=create;update;delete,versions=v1alpha1,name=vpartnerprogram.governance.partnergov.io,admissionReviewVersions=v1

// ProgramValidator refuses catalog changes that would silently break a tier
// (removing a metric a tier requires, leaving a tier above the entry rank without
// an Outcome requirement), catalogs that let a partner's own integration report
// Outcome evidence, and deleting a program that tiers or partners still use.
type ProgramValidator struct {
	Reader client.Reader
	// Partners reads partners from the manager's cache, by the indexes
	// indexPartners registers.
	Partners client.Reader
	// MinRetention is the least spec.recordRetention a program may set
	// (v1alpha1.MinRecordRetention unless the manager says otherwise).
	MinRetention time.Duration
	// Clock tells whether spec.onboarding.adoptPartnersCreatedBefore is in the future.
	Clock clock.PassiveClock
}

// ValidateCreate refuses Outcome metrics that trust every ServiceAccount.
func (v *ProgramValidator) ValidateCreate(_ context.Context, p *v1alpha1.PartnerProgram) (admission.Warnings, error) {
	errs := append(selfReporting(p, tier.SelfReporting(p, "", ""), ""), freeMailAliases(p, nil)...)
	errs = append(errs, v.adoption(nil, p)...)
	return nil, invalid("PartnerProgram", p.Name, append(errs, v.retentionFloor(p, nil)...))
}

// retentionFloor refuses a spec.recordRetention below MinRetention: records are
// kept for the retention in force when their decision is made, and a program
// editor who could set it to a second could delete decided requests at once. On
// update only a changed value is refused, so a program stored below the floor
// before the rule can still be edited.
func (v *ProgramValidator) retentionFloor(p, old *v1alpha1.PartnerProgram) field.ErrorList {
	r := p.Spec.RecordRetention
	if r == nil || r.Duration >= v.MinRetention {
		return nil
	}
	if old != nil && old.Spec.RecordRetention != nil && old.Spec.RecordRetention.Duration == r.Duration {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("spec", "recordRetention"), r.Duration.String(),
		fmt.Sprintf("decision records are kept at least %s (the manager's --min-record-retention); a shorter retention would let decided requests and their records be deleted early", v.MinRetention))}
}

// freeMailAliases refuses domainAliases whose canonical domain is a free-mail
// domain (deal.AliasRefusals). On update only entries new or changed since old
// are refused, so a program stored before the rule can still be edited.
func freeMailAliases(p, old *v1alpha1.PartnerProgram) field.ErrorList {
	if p.Spec.DealRegistration == nil {
		return nil
	}
	had := map[v1alpha1.DomainAlias]bool{}
	if old != nil && old.Spec.DealRegistration != nil {
		for _, a := range old.Spec.DealRegistration.DomainAliases {
			had[a] = true
		}
	}
	var errs field.ErrorList
	aliases := p.Spec.DealRegistration.DomainAliases
	for i, why := range deal.AliasRefusals(p.Spec.DealRegistration) {
		if !had[aliases[i]] {
			errs = append(errs, field.Invalid(field.NewPath("spec", "dealRegistration", "domainAliases").Index(i).Child("canonical"), aliases[i].Canonical, why))
		}
	}
	slices.SortFunc(errs, func(a, b *field.Error) int { return strings.Compare(a.Field, b.Field) })
	return errs
}

// adoptionSkew is how far in the future spec.onboarding.adoptPartnersCreatedBefore
// may lie, for the clocks of the writer and the server.
const adoptionSkew = time.Minute

// adoption refuses a spec.onboarding.adoptPartnersCreatedBefore set (or moved)
// into the future: it adopts the partners that existed before onboarding, and
// a time to come would skip the onboarding of every partner created until then
// (the lifecycle engine ignores such a time too).
func (v *ProgramValidator) adoption(old, p *v1alpha1.PartnerProgram) field.ErrorList {
	if v.Clock == nil || p.Spec.Onboarding == nil || p.Spec.Onboarding.AdoptPartnersCreatedBefore == nil {
		return nil
	}
	cutoff := p.Spec.Onboarding.AdoptPartnersCreatedBefore
	if old != nil && old.Spec.Onboarding != nil && old.Spec.Onboarding.AdoptPartnersCreatedBefore.Equal(cutoff) {
		return nil
	}
	now := v.Clock.Now()
	if !cutoff.Time.After(now.Add(adoptionSkew)) {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("spec", "onboarding", "adoptPartnersCreatedBefore"), cutoff.UTC().Format(time.RFC3339), fmt.Sprintf(
		"adoption skips onboarding for the partners that existed before it, so it may not be in the future (now is %s): a time to come would let every partner created until then skip the onboarding steps",
		now.UTC().Format(time.RFC3339)))}

}

// ValidateUpdate checks the program's tiers against the new catalog (a tier that
// fitted the old catalog must fit the new one) and the new catalog against the
// program's partners.
func (v *ProgramValidator) ValidateUpdate(ctx context.Context, oldObj, newObj *v1alpha1.PartnerProgram) (admission.Warnings, error) {
	var tiers v1alpha1.PartnerTierList
	if err := v.Reader.List(ctx, &tiers); err != nil {
		return nil, err
	}
	var errs field.ErrorList
	for i := range tiers.Items {
		t := &tiers.Items[i]
		if t.Spec.Program != newObj.Name {
			continue
		}
		if _, _, wasOK := tier.ValidateTier(*t, oldObj); !wasOK {
			continue // it did not fit before either; the tier reports that itself
		}
		if _, msg, ok := tier.ValidateTier(*t, newObj); !ok {
			errs = append(errs, field.Invalid(field.NewPath("spec", "metrics"), "(catalog)",
				fmt.Sprintf("this change would break PartnerTier %q: %s; change the tier first", t.Name, msg)))
		}
	}
	errs = append(errs, selfReporting(newObj, tier.SelfReporting(newObj, "", ""), "")...)
	errs = append(errs, freeMailAliases(newObj, oldObj)...)
	errs = append(errs, v.retentionFloor(newObj, oldObj)...)
	errs = append(errs, v.adoption(oldObj, newObj)...)
	partners, err := v.suspects(ctx, newObj)
	if err != nil {
		return nil, err
	}
	for _, p := range partners {
		if rules := tier.SelfReporting(newObj, p.Namespace, p.Name); len(rules) > 0 {
			errs = append(errs, selfReporting(newObj, rules, p.Namespace+"/"+p.Name)...)
			break // one partner names the problem; the rule is the same for the rest
		}
	}
	return nil, invalid("PartnerProgram", newObj.Name, errs)
}

// suspects finds the partners of program p whose integration identity an
// Outcome metric of p may trust (tier.SelfReportingSuspects): the partners whose
// "<partner>-integration" the catalog names, and one partner of p in each
// namespace whose ServiceAccounts it trusts (one names the problem). Each is a
// lookup in the cache by name or by the spec.program index within a namespace,
// never a list of the program's partners: an update of a program of 100,000
// partners costs a few map lookups. The one scan is for a ServiceAccount whose
// name was shortened with a hash (a partner name over 51 characters): the
// partners of p in its namespace are compared with it.
func (v *ProgramValidator) suspects(ctx context.Context, p *v1alpha1.PartnerProgram) ([]*v1alpha1.Partner, error) {
	accounts, namespaces := tier.SelfReportingSuspects(p)
	var out []*v1alpha1.Partner
	for _, sa := range accounts {
		if name, ok := strings.CutSuffix(sa.Name, "-integration"); ok {
			var partner v1alpha1.Partner
			err := v.Partners.Get(ctx, types.NamespacedName{Namespace: sa.Namespace, Name: name}, &partner)
			if client.IgnoreNotFound(err) != nil {
				return nil, err
			}
			if err == nil && partner.Spec.Program == p.Name {
				out = append(out, &partner)
			}
			continue
		}
		if len(sa.Name) < 63 {
			continue // not a name IntegrationName gives
		}
		var list v1alpha1.PartnerList
		if err := v.Partners.List(ctx, &list, client.InNamespace(sa.Namespace), client.MatchingFields{IndexPartnerProgram: p.Name},
			client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for i := range list.Items {
			if v1alpha1.IntegrationName(list.Items[i].Name) == sa.Name {
				out = append(out, &list.Items[i])
			}
		}
	}
	for _, ns := range namespaces {
		var list v1alpha1.PartnerList
		if err := v.Partners.List(ctx, &list, client.InNamespace(ns), client.MatchingFields{IndexPartnerProgram: p.Name},
			client.Limit(1), client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// IndexPartnerProgram is the cache index of Partners by spec.program that the
// partner controller registers on the same manager (internal/app sets up the
// controllers and the webhooks together); controller-runtime keeps it per
// namespace too, so a lookup within a namespace is one map access.
const IndexPartnerProgram = "spec.program"

// ValidateDelete refuses deleting a program that tiers or partners reference: its
// partners would be left with no catalog to judge their evidence by.
func (v *ProgramValidator) ValidateDelete(ctx context.Context, p *v1alpha1.PartnerProgram) (admission.Warnings, error) {
	var tiers v1alpha1.PartnerTierList
	if err := v.Reader.List(ctx, &tiers); err != nil {
		return nil, err
	}
	// The partners come from the cache (without copies): a refusal names how
	// many there are, and the API server is not asked to list them.
	var partners v1alpha1.PartnerList
	if err := v.Partners.List(ctx, &partners, client.MatchingFields{IndexPartnerProgram: p.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	if why := tier.ProgramDeletionRefusal(p.Name, tiers.Items, partners.Items); why != "" {
		return nil, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("partnerprograms").GroupResource(), p.Name, errors.New(why))
	}
	return nil, nil
}

// selfReporting turns the rules that let a partner report its own outcomes into
// field errors; partner names the partner concerned, if one is.
func selfReporting(p *v1alpha1.PartnerProgram, rules []string, partner string) field.ErrorList {
	if len(rules) == 0 {
		return nil
	}
	who := "every partner's integration identity"
	if partner != "" {
		who = "the integration identity of partner " + partner
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec", "metrics"), fmt.Sprintf(
		"%s would be trusted to report Outcome evidence (%s): a partner may not self-report the outcomes that earn its tier; trust the CRM or finance integration instead",
		who, strings.Join(rules, "; ")))}
}
