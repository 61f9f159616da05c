package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/guard"
	"github.com/partnergov/partnergov/internal/offboarding"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-dealregistration,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=dealregistrations,verbs=create;update,versions=v1alpha1,name=mdealregistration.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-dealregistration,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=dealregistrations,verbs=create;update;delete,versions=v1alpha1,name=vdealregistration.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-deallock,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=deallocks,verbs=create;update;delete,versions=v1alpha1,name=vdeallock.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-deallock,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=deallocks,verbs=create;update,versions=v1alpha1,name=mdeallock.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-dealregistration-status,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=dealregistrations/status,verbs=update,versions=v1alpha1,name=mdealregistrationstatus.governance.partnergov.io,admissionReviewVersions=v1

// The deal webhooks read DealLocks to warn early about a held customer.
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=deallocks,verbs=get;list;watch

// DealDefaulter stamps who registered a deal (from the API server's
// authentication), when to the microsecond (the order conflicts are decided
// in), and the UID of its partner. What the user wrote there is replaced; an
// update that leaves them out keeps them.
type DealDefaulter struct {
	Reader client.Reader
	Clock  clock.PassiveClock
}

// Default stamps spec.registrant, spec.submittedAt and spec.partnerUID on create.
func (d DealDefaulter) Default(ctx context.Context, r *v1alpha1.DealRegistration) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if req.Operation == admissionv1.Update {
		// A full update from a manifest (kubectl replace, a GitOps sync) does not
		// carry the server's stamps: keep them, as they cannot change.
		var old v1alpha1.DealRegistration
		if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil {
			return err
		}
		if r.Spec.Registrant == nil {
			r.Spec.Registrant = old.Spec.Registrant
		}
		if r.Spec.SubmittedAt == nil {
			r.Spec.SubmittedAt = old.Spec.SubmittedAt
		}
		if r.Spec.PartnerUID == "" {
			r.Spec.PartnerUID = old.Spec.PartnerUID
		}
		return nil
	}
	if req.Operation != admissionv1.Create {
		return nil
	}
	r.Spec.Registrant = &v1alpha1.UserInfo{Username: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: append([]string(nil), req.UserInfo.Groups...)}
	at := metav1.NewMicroTime(d.Clock.Now().UTC())
	r.Spec.SubmittedAt = &at
	r.Spec.PartnerUID = ""
	var partner v1alpha1.Partner
	if found, err := getOptional(ctx, d.Reader, types.NamespacedName{Namespace: r.Namespace, Name: r.Spec.Partner}, &partner); err != nil {
		return err
	} else if found {
		r.Spec.PartnerUID = string(partner.UID)
	}
	return nil
}

// DealValidator refuses a registration for a partner or program that does not
// exist, and a customer domain that cannot identify a customer (a free-mail
// domain, a public suffix, an IP address), naming the field and the rule. It
// warns when the customer is already held; the lock, not this check, decides.
type DealValidator struct {
	Reader client.Reader
	Clock  clock.PassiveClock
	// Seals verify the locks it warns about (an unsealed lock holds
	// nothing); nil when sealing is off.
	Seals *seal.Keys
}

// ValidateCreate checks the partner, its program and the customer's domain.
func (v *DealValidator) ValidateCreate(ctx context.Context, r *v1alpha1.DealRegistration) (admission.Warnings, error) {
	var errs field.ErrorList
	if r.Spec.EscalateConflict {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "escalateConflict"),
			"a conflict is escalated once the registration is Queued behind another partner's registration, not at registration"))
		return nil, invalid("DealRegistration", r.Name, errs)
	}
	var partner v1alpha1.Partner
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Namespace: r.Namespace, Name: r.Spec.Partner}, &partner)
	if err != nil {
		return nil, err
	}
	if !found {
		errs = append(errs, field.NotFound(field.NewPath("spec", "partner"), r.Spec.Partner))
		return nil, invalid("DealRegistration", r.Name, errs)
	}
	if err := offboarding.RefuseNew(&partner, "DealRegistration", v.Clock.Now()); err != nil {
		return nil, invalid("DealRegistration", r.Name, append(errs, err))
	}
	if partner.Spec.Suspended {
		// The controller rejects it too (a registration admitted before the
		// suspension, or past this webhook); the partner hears it now.
		errs = append(errs, field.Forbidden(field.NewPath("spec", "partner"),
			fmt.Sprintf("partner %s is suspended: it registers no deal, of any type, until the suspension ends (its open registrations lost their protection)", partner.Name)))
		return nil, invalid("DealRegistration", r.Name, errs)
	}
	var program v1alpha1.PartnerProgram
	if found, err := getOptional(ctx, v.Reader, types.NamespacedName{Name: partner.Spec.Program}, &program); err != nil {
		return nil, err
	} else if !found {
		errs = append(errs, field.Invalid(field.NewPath("spec", "partner"), r.Spec.Partner,
			fmt.Sprintf("partner %s's program %s does not exist, so it has no rules of engagement to register under", partner.Name, partner.Spec.Program)))
		return nil, invalid("DealRegistration", r.Name, errs)
	}
	domain, keys, err := deal.Keys(r, &program)
	if err != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "customer", "domain"), r.Spec.Customer.Domain, err.Error()))
		return nil, invalid("DealRegistration", r.Name, errs)
	}
	if errs, err := v.influencers(ctx, r, &program); err != nil {
		return nil, err
	} else if len(errs) > 0 {
		return nil, invalid("DealRegistration", r.Name, errs)
	}
	if why := deal.Refusal(r, domain, &program); why != "" {
		// The controller decides and records it; the partner hears it now.
		return admission.Warnings{"this registration will be rejected: " + why}, nil
	}
	// Every identifier's key: a holder of any of them holds the customer.
	for _, key := range keys {
		var lock v1alpha1.DealLock
		if found, err := getOptional(ctx, v.Reader, types.NamespacedName{Name: deal.LockName(key)}, &lock); err == nil && found && deal.LockHolds(&lock, v.Seals) {
			h := lock.Spec.Holder
			if h.Kind == deal.HolderDirect {
				return admission.Warnings{fmt.Sprintf("the direct team holds %s (opportunity %s): this registration will be rejected DirectEngaged unless that claim ends first", key, h.Opportunity)}, nil
			}
			return admission.Warnings{fmt.Sprintf("registration %s/%s of partner %s holds %s: this registration will be queued behind it", h.Namespace, h.Name, h.Partner, key)}, nil
		}
	}
	return nil, nil
}

// ValidateUpdate refuses a conflict escalation of a registration that is not
// Queued behind another partner's registration, and influence claims changed
// once the outcome is reported or that do not hold (DealValidator.influencers);
// CEL keeps the customer, product line and the server's stamps immutable.
func (v *DealValidator) ValidateUpdate(ctx context.Context, old, r *v1alpha1.DealRegistration) (admission.Warnings, error) {
	if !equality.Semantic.DeepEqual(old.Spec.Influencers, r.Spec.Influencers) {
		if o := old.Status.Outcome; o != nil {
			return nil, invalid("DealRegistration", r.Name, field.ErrorList{field.Forbidden(field.NewPath("spec", "influencers"),
				fmt.Sprintf("influence claims are fixed once the outcome is reported (the CRM reported the deal %s): attribution was computed from them", o.Result))})
		}
		program, err := programOfPartner(ctx, v.Reader, r.Namespace, r.Spec.Partner)
		if err != nil {
			return nil, err
		}
		if errs, err := v.influencers(ctx, r, program); err != nil {
			return nil, err
		} else if len(errs) > 0 {
			return nil, invalid("DealRegistration", r.Name, errs)
		}
	}
	if r.Spec.EscalateConflict && !old.Spec.EscalateConflict {
		h := old.Status.Holder
		if old.Status.Phase != v1alpha1.DealQueued || h == nil || h.Kind != deal.HolderPartner {
			return nil, invalid("DealRegistration", r.Name, field.ErrorList{field.Forbidden(field.NewPath("spec", "escalateConflict"),
				fmt.Sprintf("only a registration Queued behind another partner's registration escalates a conflict; this one is %s%s",
					phaseText(old.Status.Phase), directNote(h)))})
		}
	}
	return nil, nil
}

// influencers refuses influence claims that cannot count: an influencer that is
// not a partner of the registration's program, influence before the
// registration's submission (spec.submittedAt, to the second) or in the
// future. Whether a claim counts is decided when the deal is won (the CRM's
// confirmation, the lookback): this only refuses what never could.
func (v *DealValidator) influencers(ctx context.Context, r *v1alpha1.DealRegistration, program *v1alpha1.PartnerProgram) (field.ErrorList, error) {
	var errs field.ErrorList
	now := v.Clock.Now()
	for i, inf := range r.Spec.Influencers {
		path := field.NewPath("spec", "influencers").Index(i)
		if deal.InfluencedBeforeSubmission(r, inf) {
			errs = append(errs, field.Invalid(path.Child("at"), inf.At.UTC().Format(time.RFC3339), fmt.Sprintf(
				"influence is claimed on a registered deal: it may not be before the registration's submission (%s, less %s for clocks); add the claim once the partner has influenced the deal",
				r.Spec.SubmittedAt.UTC().Format(time.RFC3339), deal.InfluenceSkew)))
		}
		if inf.At.After(now.Add(deal.InfluenceSkew)) {
			errs = append(errs, field.Invalid(path.Child("at"), inf.At.UTC().Format(time.RFC3339),
				fmt.Sprintf("influence may not be claimed in the future (now is %s)", now.UTC().Format(time.RFC3339))))
		}
		ns := deal.InfluencerNamespace(r, inf)
		var p v1alpha1.Partner
		found, err := getOptional(ctx, v.Reader, types.NamespacedName{Namespace: ns, Name: inf.Partner}, &p)
		if err != nil {
			return nil, err
		}
		switch {
		case !found:
			errs = append(errs, field.NotFound(path.Child("partner"), ns+"/"+inf.Partner))
		case program == nil || p.Spec.Program != program.Name:
			errs = append(errs, field.Invalid(path.Child("partner"), ns+"/"+inf.Partner, fmt.Sprintf(
				"an influencer must be a partner of the registration's program %s; %s/%s is in program %s", programText(program), ns, inf.Partner, p.Spec.Program)))
		}
	}
	return errs, nil
}

func programText(p *v1alpha1.PartnerProgram) string {
	if p == nil {
		return "(none)"
	}
	return p.Name
}

func directNote(h *v1alpha1.DealHolder) string {
	if h != nil && h.Kind == deal.HolderDirect {
		return " behind the direct team, whose claim is released in the CRM"
	}
	return ""
}

// ValidateDelete allows deleting a registration once every transition it
// stores has its DecisionRecord (a holder that is gone releases its key).
func (v *DealValidator) ValidateDelete(ctx context.Context, r *v1alpha1.DealRegistration) (admission.Warnings, error) {
	if deletingNamespace(ctx) {
		return nil, nil
	}
	// status.recordedSequence lags (it advances only with another write): the
	// records themselves, read from the cache, say what is recorded.
	var missing []string
	for _, e := range r.Status.History {
		if e.Sequence <= r.Status.RecordedSequence {
			continue
		}
		existing := &metav1.PartialObjectMetadata{}
		existing.SetGroupVersionKind(recordsv1alpha1.GroupVersion.WithKind("DecisionRecord"))
		switch err := v.Reader.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: record.DealTransitionName(r, e.Sequence)}, existing); {
		case apierrors.IsNotFound(err):
			missing = append(missing, strconv.FormatInt(e.Sequence, 10))
		case err != nil:
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("dealregistrations").GroupResource(), r.Name, fmt.Errorf(
			"DealRegistration %s/%s stores transitions the controller has not recorded yet (sequence %s); deleting it now would lose them: try again once their DecisionRecords exist",
			r.Namespace, r.Name, strings.Join(missing, ", ")))
	}
	return nil, nil
}

// DealLockValidator keeps the locks honest. The controller takes and releases
// them for registrations. The program's CRM integration
// (spec.dealRegistration.crmReporters) writes the direct team's claims, and
// only those: it can neither take a partner's key nor release it. A lock must
// carry the name its conflict key gives, or it would lock nothing.
type DealLockValidator struct {
	Reader             client.Reader
	ControllerUsername string
}

var locksResource = v1alpha1.GroupVersion.WithResource("deallocks").GroupResource()

// ValidateCreate checks the name and the writer.
func (v *DealLockValidator) ValidateCreate(ctx context.Context, l *v1alpha1.DealLock) (admission.Warnings, error) {
	if want := deal.LockName(l.Spec.ConflictKey); l.Name != want {
		return nil, invalid("DealLock", l.Name, field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), l.Name,
			fmt.Sprintf("the lock of conflict key %q must be named %s (partnergov's hash of the key), or it locks nothing", l.Spec.ConflictKey, want))})
	}
	if !strings.HasPrefix(l.Spec.ConflictKey, l.Spec.Program+"/") {
		return nil, invalid("DealLock", l.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "conflictKey"), l.Spec.ConflictKey,
			fmt.Sprintf("a conflict key of program %s starts with %q, as in DealRegistration status.conflictKey", l.Spec.Program, l.Spec.Program+"/"))})
	}
	return nil, v.checkWriter(ctx, l, nil)
}

// ValidateUpdate checks the writer against both holders.
func (v *DealLockValidator) ValidateUpdate(ctx context.Context, old, l *v1alpha1.DealLock) (admission.Warnings, error) {
	return nil, v.checkWriter(ctx, l, old)
}

// ValidateDelete checks the writer against the holder.
func (v *DealLockValidator) ValidateDelete(ctx context.Context, l *v1alpha1.DealLock) (admission.Warnings, error) {
	return nil, v.checkWriter(ctx, l, l)
}

func (v *DealLockValidator) checkWriter(ctx context.Context, l, old *v1alpha1.DealLock) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if req.UserInfo.Username == v.ControllerUsername {
		return nil
	}
	return lockWriterRefusal(ctx, v.Reader, req, l, old)
}

// lockWriterRefusal refuses a lock write by anyone but the controller unless
// the writer is one of the program's crmReporters writing the direct team's
// claim (old, the lock before an update or a delete, held by the direct team
// too). nil means the write is the CRM integration's, and allowed.
func lockWriterRefusal(ctx context.Context, reader client.Reader, req admission.Request, l, old *v1alpha1.DealLock) error {
	var program v1alpha1.PartnerProgram
	trusted := false
	if found, err := getOptional(ctx, reader, types.NamespacedName{Name: l.Spec.Program}, &program); err != nil {
		return err
	} else if found && program.Spec.DealRegistration != nil {
		_, trusted = tier.Matches(program.Spec.DealRegistration.CRMReporters, req.UserInfo.Username, req.UserInfo.Groups)
	}
	switch {
	case !trusted:
		return apierrors.NewForbidden(locksResource, l.Name, fmt.Errorf(
			"%s may not write DealLocks: the partnergov controller takes them for registrations, and only program %s's spec.dealRegistration.crmReporters write the direct team's",
			req.UserInfo.Username, l.Spec.Program))
	case l.Spec.Holder.Kind != deal.HolderDirect || (old != nil && old.Spec.Holder.Kind != deal.HolderDirect):
		return apierrors.NewForbidden(locksResource, l.Name, fmt.Errorf(
			"%s writes the direct team's claims only: a key a partner's registration holds is taken and released by the controller, in submission order", req.UserInfo.Username))
	}
	return nil
}

// DealLockDefaulter seals the direct team's claims the program's CRM
// integration writes (spec.seal, over what seal.Lock covers), so that a lock
// written past the webhooks, without a valid seal, holds nothing. The
// controller seals the locks it takes itself: its writes are left as they
// are. Any other writer's seal is removed (DealLockValidator refuses its write
// anyway).
type DealLockDefaulter struct {
	Reader             client.Reader
	ControllerUsername string
	// Seals seal the claims; nil when sealing is off.
	Seals *seal.Keys
}

// Default seals a claim the CRM integration may write, and removes any other
// writer's seal.
func (d *DealLockDefaulter) Default(ctx context.Context, l *v1alpha1.DealLock) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if req.UserInfo.Username == d.ControllerUsername {
		return nil
	}
	l.Spec.Seal = ""
	var old *v1alpha1.DealLock
	if req.Operation == admissionv1.Update {
		old = &v1alpha1.DealLock{}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return err
		}
	}
	switch err := lockWriterRefusal(ctx, d.Reader, req, l, old); {
	case err == nil:
		d.Seals.SealLock(&l.Spec)
	case !apierrors.IsForbidden(err):
		return err
	}
	return nil
}

// DealStatusPath serves the dealregistrations/status guard.
const DealStatusPath = "/mutate-governance-partnergov-io-v1alpha1-dealregistration-status"

// DealStatusGuard admits writes to dealregistrations/status: the controller
// decides a registration's standing; the program's CRM integration reports its
// outcome (guard.DealStatus).
type DealStatusGuard struct {
	// Reader reads the partner and its program, from the cache.
	Reader             client.Reader
	Decoder            admission.Decoder
	ControllerUsername string
	// Seals seal the outcome and influence confirmations the guard stamps;
	// nil when sealing is off.
	Seals *seal.Keys
}

// Handle implements admission.Handler.
func (h *DealStatusGuard) Handle(ctx context.Context, req admission.Request) admission.Response {
	var old, updated v1alpha1.DealRegistration
	if resp := decodeStatusWrite(h.Decoder, req, &old, &updated); resp != nil {
		return *resp
	}
	var crm v1alpha1.Identities
	program, err := programOfPartner(ctx, h.Reader, old.Namespace, old.Spec.Partner)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if program != nil && program.Spec.DealRegistration != nil {
		crm = program.Spec.DealRegistration.CRMReporters
	}
	status, refusal := guard.DealStatus(&old, &updated, writerOf(req, h.ControllerUsername, h.Seals), crm)
	if refusal != nil {
		return admission.Denied(refusal.Message)
	}
	updated.Status = *status
	return patched(req, &updated)
}

// ValidateDelete (DealValidator) is below: a registration whose transitions are
// not all recorded yet cannot be deleted.

func phaseText(p v1alpha1.DealPhase) string {
	if p == "" {
		return "not decided yet"
	}
	return string(p)
}
