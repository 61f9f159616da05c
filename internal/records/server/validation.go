package server

import (
	"regexp"
	"slices"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
)

// decisionTypes are the values spec.type takes (the CRD's enum).
var decisionTypes = []string{"TierChange", "StageDecision", "RequestOutcome", "GrantExpiry",
	"ListingPublication", "DealTransition", "LifecycleChange"}

// decimal is the CRD's pattern of an evidence value.
var decimal = regexp.MustCompile(`^-?[0-9]{1,18}(\.[0-9]{1,9})?$`)

// subjectKinds are the values spec.subject.kind takes (the CRD's enum).
var subjectKinds = []string{"Partner", "ExceptionRequest", "Listing", "DealRegistration"}

// Validate checks a record to be created as the CRD's schema does (required
// fields, lengths, enums, retainUntil after time), and refuses owners and
// finalizers: a record outlives its subject, and nobody deletes it.
func Validate(r *recordsv1alpha1.DecisionRecord) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&r.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if len(r.OwnerReferences) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "ownerReferences"),
			"a DecisionRecord outlives its subject: it has no owner, and the garbage collector may not delete it"))
	}
	if len(r.Finalizers) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "finalizers"),
			"nobody deletes a DecisionRecord: the records server prunes it after spec.retainUntil"))
	}
	spec := field.NewPath("spec")
	s := r.Spec
	errs = append(errs, enum(spec.Child("type"), string(s.Type), decisionTypes)...)
	errs = append(errs, enum(spec.Child("subject", "kind"), s.Subject.Kind, subjectKinds)...)
	errs = append(errs, length(spec.Child("subject", "name"), s.Subject.Name, 1, 253)...)
	errs = append(errs, length(spec.Child("subject", "uid"), s.Subject.UID, 0, 64)...)
	errs = append(errs, length(spec.Child("partner"), s.Partner, 1, 253)...)
	errs = append(errs, length(spec.Child("program"), s.Program, 0, 253)...)
	errs = append(errs, length(spec.Child("actor"), s.Actor, 1, 253)...)
	errs = append(errs, length(spec.Child("reason"), s.Reason, 1, 64)...)
	errs = append(errs, length(spec.Child("message"), s.Message, 0, 2048)...)
	errs = append(errs, length(spec.Child("from"), s.From, 0, 253)...)
	errs = append(errs, length(spec.Child("to"), s.To, 0, 253)...)
	errs = append(errs, length(spec.Child("request"), s.Request, 0, 253)...)
	errs = append(errs, length(spec.Child("stage"), s.Stage, 0, 63)...)
	if len(s.Evidence) > 64 {
		errs = append(errs, field.TooMany(spec.Child("evidence"), len(s.Evidence), 64))
	}
	for i, e := range s.Evidence {
		p := spec.Child("evidence").Index(i)
		errs = append(errs, length(p.Child("metric"), e.Metric, 0, 63)...)
		switch {
		case e.Value == "":
			errs = append(errs, field.Required(p.Child("value"), "the value used in the decision"))
		case len(e.Value) > 29:
			errs = append(errs, field.TooLong(p.Child("value"), "", 29))
		case !decimal.MatchString(e.Value):
			errs = append(errs, field.Invalid(p.Child("value"), e.Value, "must be an exact decimal number such as 1250000 or 4.5 (matching "+decimal.String()+")"))
		}
	}
	if s.Time.IsZero() {
		errs = append(errs, field.Required(spec.Child("time"), "when the decision was made"))
	}
	if s.RetainUntil.IsZero() {
		errs = append(errs, field.Required(spec.Child("retainUntil"), "until when the record is kept"))
	} else if !s.Time.IsZero() && !s.RetainUntil.After(s.Time.Time) {
		errs = append(errs, field.Invalid(spec.Child("retainUntil"), s.RetainUntil.UTC().Format("2006-01-02T15:04:05Z"),
			"must be after spec.time: a record is kept for its program's recordRetention after the decision"))
	}
	return errs
}

func enum(p *field.Path, v string, values []string) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if !slices.Contains(values, v) {
		return field.ErrorList{field.NotSupported(p, v, values)}
	}
	return nil
}

func length(p *field.Path, v string, minLen, maxLen int) field.ErrorList {
	switch {
	case len(v) < minLen && v == "":
		return field.ErrorList{field.Required(p, "")}
	case len(v) > maxLen:
		return field.ErrorList{field.TooLong(p, "", maxLen)}
	}
	return nil
}
