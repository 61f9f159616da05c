package listing

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// DefaultNotice is the deprecation notice when the program sets none.
const DefaultNotice = 90 * 24 * time.Hour

// ValidateVersions applies the rules that need the current time and the program:
// a deprecation needs a sunset at least `notice` after the later of now and the
// deprecation, and a released version cannot be removed before its sunset. old is
// nil on create. (Released versions' immutability is a CEL rule in the schema.)
func ValidateVersions(old, updated *v1alpha1.Listing, notice time.Duration, now time.Time) field.ErrorList {
	var errs field.ErrorList
	before := map[string]v1alpha1.ListingVersion{}
	if old != nil {
		for _, v := range old.Spec.Versions {
			before[v.Version] = v
		}
	}
	path := field.NewPath("spec", "versions")
	for i, v := range updated.Spec.Versions {
		prev, existed := before[v.Version]
		delete(before, v.Version)
		if v.DeprecatedAt == nil || (existed && sameTime(prev.DeprecatedAt, v.DeprecatedAt) && sameTime(prev.SunsetAt, v.SunsetAt)) {
			continue
		}
		errs = append(errs, checkNotice(path.Index(i), v, notice, now)...)
	}
	for _, v := range before { // versions the update removes
		if v.ReleasedAt != nil && (v.SunsetAt == nil || now.Before(v.SunsetAt.Time)) {
			errs = append(errs, field.Forbidden(path, fmt.Sprintf(
				"version %s cannot be removed before its sunset (%s): deprecate it with a sunset date at least the program's notice period ahead, and remove it after that date",
				v.Version, sunsetText(v))))
		}
	}
	return errs
}

// checkNotice requires a sunset at least notice after max(now, deprecatedAt).
func checkNotice(p *field.Path, v v1alpha1.ListingVersion, notice time.Duration, now time.Time) field.ErrorList {
	if v.SunsetAt == nil {
		return field.ErrorList{field.Required(p.Child("sunsetAt"),
			fmt.Sprintf("deprecating version %s needs a sunset date at least %s ahead (the program's listingDeprecationNotice)", v.Version, notice))}
	}
	from := now
	if v.DeprecatedAt.After(now) {
		from = v.DeprecatedAt.Time
	}
	earliest := from.Add(notice)
	if v.SunsetAt.Time.Before(earliest.Truncate(time.Second)) {
		return field.ErrorList{field.Invalid(p.Child("sunsetAt"), v.SunsetAt.UTC().Format(time.RFC3339), fmt.Sprintf(
			"the sunset of a deprecated version must be at least the program's listingDeprecationNotice (%s) after the deprecation; the earliest allowed is %s",
			notice, earliest.UTC().Format(time.RFC3339)))}
	}
	return nil
}

func sameTime(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}
