// Package listing decides what the marketplace shows for a Listing: whether it is
// published (only while the partner is entitled, or under an approved
// ListingException), which claimed badges have evidence, which versions are
// offered, which change notices were given, and whether it is adopted. It also
// holds the admission rules for versions. It is pure: no cluster access.
package listing

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/offboarding"
)

// LowAdoptionViews is how many views without a single install flag a listing
// with LowAdoption=True.
const LowAdoptionViews = 100

// MaxNotices is how many change notices a listing keeps: one deprecation and one
// sunset notice for each of at most 64 versions.
const MaxNotices = 128

// Badge names in status.shownClaims.
const (
	BadgeCertified        = "Certified"
	BadgeSecurityReviewed = "SecurityReviewed"
)

// Reasons used only on listings.
const (
	ReasonPublished         = "Published"
	ReasonListingException  = "ListingException"
	ReasonNoClaims          = "NoClaims"
	ReasonNoUsage           = "NoUsageReported"
	ReasonVersionDeprecated = "VersionDeprecated"
	ReasonVersionSunset     = "VersionSunset"
)

// Grant is an approved, unexpired ListingException for this listing.
type Grant struct {
	Request string
	Expires *time.Time
}

// Input is everything an evaluation needs; it is not modified.
type Input struct {
	Now     time.Time
	Listing *v1alpha1.Listing
	// Partner is the listing's partner; nil when it does not exist.
	Partner *v1alpha1.Partner
	// Grants are the approved ListingException requests naming this listing.
	Grants []Grant
}

// Event is one transition to record; OnPartner events are recorded on the
// partner as well as on the listing.
type Event struct {
	Warning   bool
	OnPartner bool
	Reason    string
	Message   string
}

// Result is the listing's desired status and what changed.
type Result struct {
	// Status is the full desired status; Usage is copied unchanged.
	Status v1alpha1.ListingStatus
	// NextDeadline is the earliest instant after Now at which the result can change
	// on its own (a sunset, a grant's expiry); nil if none.
	NextDeadline *time.Time
	Events       []Event
}

// Evaluate computes the listing's status.
func Evaluate(in Input) Result {
	l := in.Listing
	now := in.Now.Round(0)
	stamp := metav1.NewTime(now)
	st := l.Status.DeepCopy()
	st.ObservedGeneration = l.Generation
	r := &Result{}
	set := func(typ string, ok bool, reason, msg string) {
		conditions.Set(&st.Conditions, l.Generation, stamp, typ, conditions.Status(ok), reason, msg)
	}

	wasPublished := conditions.True(l.Status.Conditions, v1alpha1.ConditionPublished)
	published, reason, msg := publication(in, now)
	set(v1alpha1.ConditionPublished, published, reason, msg)
	if published != wasPublished {
		r.Events = append(r.Events, Event{Warning: !published, OnPartner: true, Reason: reason, Message: msg})
	}

	shown, missing := claims(l, in.Partner)
	st.ShownClaims, st.ShownClaimsSummary = shown, strings.Join(shown, ",")
	if len(missing) > 0 {
		set(v1alpha1.ConditionClaimsVerified, false, v1alpha1.ReasonClaimEvidenceAbsent, strings.Join(missing, "; "))
	} else if len(shown) == 0 {
		set(v1alpha1.ConditionClaimsVerified, true, ReasonNoClaims, "the listing claims no badge")
	} else {
		set(v1alpha1.ConditionClaimsVerified, true, v1alpha1.ReasonClaimsVerified, "every claimed badge has approved evidence: "+st.ShownClaimsSummary)
	}

	st.PublishedVersions = nil
	if published {
		st.PublishedVersions = offered(l.Spec.Versions, now)
	}
	st.LatestVersion = latest(l.Spec.Versions, now)
	st.Notices, r.Events = notices(l, st.Notices, now, r.Events)

	low, lowReason, lowMsg := adoption(l.Status.Usage)
	set(v1alpha1.ConditionLowAdoption, low, lowReason, lowMsg)

	if in.Partner == nil {
		set(v1alpha1.ConditionReady, false, v1alpha1.ReasonPartnerNotFound, msg)
	} else {
		set(v1alpha1.ConditionReady, true, v1alpha1.ReasonReconciled, msg)
	}
	r.Status = *st
	r.NextDeadline = nextDeadline(in, now)
	return *r
}

// publication decides Published: the partner holds List (and Implement for an
// Integration), or an approved ListingException keeps this listing published.
func publication(in Input, now time.Time) (bool, string, string) {
	if in.Partner == nil {
		return false, v1alpha1.ReasonPartnerNotFound, fmt.Sprintf("Partner %q does not exist in namespace %q", in.Listing.Spec.Partner, in.Listing.Namespace)
	}
	if in.Partner.OffboardingEffective(now) {
		// The offboarding wins over every exception, as a suspension does.
		return false, v1alpha1.ReasonPartnerOffboarded, offboarding.Describe(in.Partner) + ": none of its listings is published, whatever exception it holds"
	}
	if in.Partner.Spec.Suspended {
		// Suspension wins over every exception: a ListingException keeps a listing
		// up despite the tier, never despite a suspension.
		return false, v1alpha1.ReasonPartnerSuspended, fmt.Sprintf("partner %s is suspended: none of its listings is published, whatever exception it holds", in.Partner.Name)
	}
	for _, g := range in.Grants {
		if g.Expires == nil || now.Before(*g.Expires) {
			until := ""
			if g.Expires != nil {
				until = " until " + g.Expires.UTC().Format(time.RFC3339)
			}
			return true, ReasonListingException, fmt.Sprintf("published under ListingException %s%s", g.Request, until)
		}
	}
	needed := []v1alpha1.EntitlementName{v1alpha1.EntitlementList}
	if in.Listing.Spec.Kind == v1alpha1.ListingKindIntegration {
		needed = append(needed, v1alpha1.EntitlementImplement)
	}
	var lacking []string
	for _, n := range needed {
		if !holds(in.Partner, n) {
			lacking = append(lacking, string(n))
		}
	}
	if len(lacking) > 0 {
		return false, v1alpha1.ReasonEntitlementRevoked, fmt.Sprintf("partner %s does not hold the %s entitlement (tier %q%s)",
			in.Partner.Name, strings.Join(lacking, " and "), in.Partner.Status.Tier, suspended(in.Partner))
	}
	return true, v1alpha1.ReasonEntitled, fmt.Sprintf("partner %s holds %s", in.Partner.Name, joinNames(needed))
}

func suspended(p *v1alpha1.Partner) string {
	if p.Spec.Suspended {
		return ", suspended"
	}
	return ""
}

func joinNames(ns []v1alpha1.EntitlementName) string {
	var s []string
	for _, n := range ns {
		s = append(s, string(n))
	}
	return strings.Join(s, " and ")
}

// holds reports whether the partner's effective entitlements include name.
func holds(p *v1alpha1.Partner, name v1alpha1.EntitlementName) bool {
	return slices.ContainsFunc(p.Status.Entitlements, func(e v1alpha1.EffectiveEntitlement) bool { return e.Name == name })
}

// claims returns the badges shown and, for each claimed badge that is not, what
// evidence is missing.
func claims(l *v1alpha1.Listing, p *v1alpha1.Partner) (shown, missing []string) {
	has := func(kind v1alpha1.ReadinessClaimKind) bool {
		return p != nil && slices.ContainsFunc(p.Status.ReadinessClaims, func(c v1alpha1.ApprovedClaim) bool {
			return c.Kind == kind && c.Product == l.Spec.Product
		})
	}
	if l.Spec.Claims.Certified {
		switch {
		case p == nil || !holds(p, v1alpha1.EntitlementClaimCertification):
			missing = append(missing, "certified needs the partner's ClaimCertification entitlement")
		case !has(v1alpha1.ReadinessClaimCertification):
			missing = append(missing, fmt.Sprintf("certified needs an approved ReadinessClaim of kind Certification for product %q", l.Spec.Product))
		default:
			shown = append(shown, BadgeCertified)
		}
	}
	if l.Spec.Claims.SecurityReviewed {
		if has(v1alpha1.ReadinessClaimSecurityReview) {
			shown = append(shown, BadgeSecurityReviewed)
		} else {
			missing = append(missing, fmt.Sprintf("securityReviewed needs an approved ReadinessClaim of kind SecurityReview for product %q", l.Spec.Product))
		}
	}
	return shown, missing
}

// offered lists the released versions not yet sunset, newest first.
func offered(versions []v1alpha1.ListingVersion, now time.Time) []string {
	var out []string
	for _, v := range versions {
		if released(v, now) && !sunset(v, now) {
			out = append(out, v.Version)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return -Compare(a, b) })
	return out
}

// latest is the newest released version that is not deprecated.
func latest(versions []v1alpha1.ListingVersion, now time.Time) string {
	best := ""
	for _, v := range versions {
		if released(v, now) && v.DeprecatedAt == nil && (best == "" || Compare(v.Version, best) > 0) {
			best = v.Version
		}
	}
	return best
}

func released(v v1alpha1.ListingVersion, now time.Time) bool {
	return v.ReleasedAt != nil && !now.Before(v.ReleasedAt.Time)
}

func sunset(v v1alpha1.ListingVersion, now time.Time) bool {
	return v.SunsetAt != nil && !now.Before(v.SunsetAt.Time)
}

// Compare orders semantic versions (without the "v" prefix) by precedence.
func Compare(a, b string) int {
	return semver.Compare("v"+a, "v"+b)
}

// notices gives a change notice, once, for each deprecation and each sunset.
func notices(l *v1alpha1.Listing, given []v1alpha1.ChangeNotice, now time.Time, events []Event) ([]v1alpha1.ChangeNotice, []Event) {
	out := slices.Clone(given)
	noticed := func(version string, kind v1alpha1.NoticeKind) bool {
		return slices.ContainsFunc(given, func(n v1alpha1.ChangeNotice) bool { return n.Version == version && n.Kind == kind })
	}
	add := func(v v1alpha1.ListingVersion, kind v1alpha1.NoticeKind, reason, msg string) {
		out = append(out, v1alpha1.ChangeNotice{Time: metav1.NewTime(now), Version: v.Version, Kind: kind, SunsetAt: v.SunsetAt.DeepCopy(), Message: msg})
		events = append(events, Event{Reason: reason, Message: msg})
	}
	versions := slices.Clone(l.Spec.Versions)
	slices.SortFunc(versions, func(a, b v1alpha1.ListingVersion) int { return Compare(a.Version, b.Version) })
	for _, v := range versions {
		if v.DeprecatedAt != nil && !noticed(v.Version, v1alpha1.NoticeDeprecated) {
			add(v, v1alpha1.NoticeDeprecated, ReasonVersionDeprecated, fmt.Sprintf("version %s of %s is deprecated; it is withdrawn at %s",
				v.Version, l.Spec.Product, sunsetText(v)))
		}
		if sunset(v, now) && !noticed(v.Version, v1alpha1.NoticeSunset) {
			add(v, v1alpha1.NoticeSunset, ReasonVersionSunset, fmt.Sprintf("version %s of %s reached its sunset and is no longer offered", v.Version, l.Spec.Product))
		}
	}
	if len(out) > MaxNotices {
		out = trimNotices(out, l.Spec.Versions)
	}
	return out, events
}

// trimNotices drops the notices of versions the listing no longer has, then the
// oldest. Notices of current versions always fit (two per version), so a trimmed
// notice is never given again.
func trimNotices(notices []v1alpha1.ChangeNotice, versions []v1alpha1.ListingVersion) []v1alpha1.ChangeNotice {
	current := slices.DeleteFunc(slices.Clone(notices), func(n v1alpha1.ChangeNotice) bool {
		return !slices.ContainsFunc(versions, func(v v1alpha1.ListingVersion) bool { return v.Version == n.Version })
	})
	if len(current) > MaxNotices {
		current = current[len(current)-MaxNotices:]
	}
	return current
}

func sunsetText(v v1alpha1.ListingVersion) string {
	if v.SunsetAt == nil {
		return "a sunset not yet set"
	}
	return v.SunsetAt.UTC().Format(time.RFC3339)
}

// adoption flags traffic without adoption.
func adoption(u *v1alpha1.ListingUsage) (bool, string, string) {
	if u == nil {
		return false, ReasonNoUsage, "no usage has been reported"
	}
	if u.Views >= LowAdoptionViews && u.Installs == 0 {
		return true, v1alpha1.ReasonTrafficNoAdoption, fmt.Sprintf("%d views and no installs", u.Views)
	}
	return false, v1alpha1.ReasonAdopted, fmt.Sprintf("%d views, %d installs, %d active", u.Views, u.Installs, u.ActiveInstalls)
}

// nextDeadline is the earliest future sunset, release, grant expiry or the
// partner's offboarding.
func nextDeadline(in Input, now time.Time) *time.Time {
	var times []time.Time
	for _, v := range in.Listing.Spec.Versions {
		for _, t := range []*metav1.Time{v.ReleasedAt, v.SunsetAt} {
			if t != nil && t.After(now) {
				times = append(times, t.Time)
			}
		}
	}
	for _, g := range in.Grants {
		if g.Expires != nil && g.Expires.After(now) {
			times = append(times, *g.Expires)
		}
	}
	if t := offboarding.Deadline(in.Partner, now); t != nil {
		times = append(times, *t)
	}
	if len(times) == 0 {
		return nil
	}
	t := slices.MinFunc(times, func(a, b time.Time) int { return cmp.Compare(a.UnixNano(), b.UnixNano()) })
	return &t
}
