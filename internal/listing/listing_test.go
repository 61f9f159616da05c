package listing

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(d)); return &t }

func partner(ents ...v1alpha1.EntitlementName) *v1alpha1.Partner {
	p := &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Name: "nimbus", Namespace: "partners"}}
	for _, e := range ents {
		p.Status.Entitlements = append(p.Status.Entitlements, v1alpha1.EffectiveEntitlement{Name: e})
	}
	p.Status.Tier = "advanced"
	return p
}

func suspend(p *v1alpha1.Partner) *v1alpha1.Partner { p.Spec.Suspended = true; return p }

func offboard(p *v1alpha1.Partner, effective time.Time) *v1alpha1.Partner {
	p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(effective)}
	return p
}

func withClaims(p *v1alpha1.Partner, kinds ...v1alpha1.ReadinessClaimKind) *v1alpha1.Partner {
	for _, k := range kinds {
		p.Status.ReadinessClaims = append(p.Status.ReadinessClaims, v1alpha1.ApprovedClaim{Kind: k, Product: "sync", Request: "r-" + string(k)})
	}
	return p
}

func newListing(kind v1alpha1.ListingKind, versions ...v1alpha1.ListingVersion) *v1alpha1.Listing {
	return &v1alpha1.Listing{
		ObjectMeta: metav1.ObjectMeta{Name: "sync", Namespace: "partners", Generation: 3},
		Spec:       v1alpha1.ListingSpec{Partner: "nimbus", Product: "sync", Kind: kind, Versions: versions},
	}
}

func published(l *v1alpha1.Listing) *v1alpha1.Listing {
	l.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionPublished, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonEntitled}}
	return l
}

func cond(st v1alpha1.ListingStatus, typ string) metav1.Condition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

func TestEvaluate(t *testing.T) {
	list, impl, claim := v1alpha1.EntitlementList, v1alpha1.EntitlementImplement, v1alpha1.EntitlementClaimCertification
	v2 := v1alpha1.ListingVersion{Version: "2.0.0", ReleasedAt: at(-48 * time.Hour)}
	v10 := v1alpha1.ListingVersion{Version: "10.0.0-rc.1", ReleasedAt: at(-time.Hour)}
	v14 := v1alpha1.ListingVersion{Version: "1.4.2", ReleasedAt: at(-900 * time.Hour), DeprecatedAt: at(-100 * time.Hour), SunsetAt: at(time.Hour)}
	gone := v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: at(-9000 * time.Hour), DeprecatedAt: at(-5000 * time.Hour), SunsetAt: at(-time.Hour)}
	future := v1alpha1.ListingVersion{Version: "3.0.0", ReleasedAt: at(2 * time.Hour)}
	expires := now.Add(3 * time.Hour)
	tests := map[string]struct {
		listing       *v1alpha1.Listing
		partner       *v1alpha1.Partner
		grants        []Grant
		claims        v1alpha1.ListingClaims
		usage         *v1alpha1.ListingUsage
		wantPublished bool
		wantReason    string
		wantShown     string
		wantMissing   string
		wantVersions  []string
		wantLatest    string
		wantNotices   int
		wantEvents    []string
		wantLow       bool
		wantDeadline  *time.Time
	}{
		"an entitled partner's app is published": {
			listing: newListing(v1alpha1.ListingKindApp, v2), partner: partner(list),
			wantPublished: true, wantReason: v1alpha1.ReasonEntitled, wantVersions: []string{"2.0.0"}, wantLatest: "2.0.0",
			wantEvents: []string{v1alpha1.ReasonEntitled},
		},
		"an integration also needs Implement": {
			listing: newListing(v1alpha1.ListingKindIntegration, v2), partner: partner(list),
			wantReason: v1alpha1.ReasonEntitlementRevoked, wantLatest: "2.0.0",
		},
		"losing List unpublishes with EntitlementRevoked and an event": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: partner(impl),
			wantReason: v1alpha1.ReasonEntitlementRevoked, wantLatest: "2.0.0", wantEvents: []string{v1alpha1.ReasonEntitlementRevoked},
		},
		"a listing exception keeps it published until it expires": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: partner(),
			grants:        []Grant{{Request: "keep-sync", Expires: &expires}},
			wantPublished: true, wantReason: ReasonListingException, wantVersions: []string{"2.0.0"}, wantLatest: "2.0.0", wantDeadline: &expires,
		},
		"suspension wins over a listing exception": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: suspend(partner(list)),
			grants:     []Grant{{Request: "keep-sync", Expires: &expires}},
			wantReason: v1alpha1.ReasonPartnerSuspended, wantLatest: "2.0.0", wantEvents: []string{v1alpha1.ReasonPartnerSuspended},
			wantDeadline: &expires,
		},
		"an effective offboarding unpublishes, whatever exception it holds": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: offboard(partner(list), now.Add(-time.Minute)),
			grants:     []Grant{{Request: "keep-sync", Expires: &expires}},
			wantReason: v1alpha1.ReasonPartnerOffboarded, wantLatest: "2.0.0", wantEvents: []string{v1alpha1.ReasonPartnerOffboarded},
			wantDeadline: &expires,
		},
		"an offboarding not yet in effect leaves it published and is the next deadline": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: offboard(partner(list), now.Add(time.Minute)),
			wantPublished: true, wantReason: v1alpha1.ReasonEntitled, wantVersions: []string{"2.0.0"}, wantLatest: "2.0.0",
			wantDeadline: func() *time.Time { t := now.Add(time.Minute); return &t }(),
		},
		"an expired listing exception does not": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: partner(),
			grants:     []Grant{{Request: "keep-sync", Expires: &now}},
			wantReason: v1alpha1.ReasonEntitlementRevoked, wantLatest: "2.0.0", wantEvents: []string{v1alpha1.ReasonEntitlementRevoked},
		},
		"a missing partner": {
			listing: newListing(v1alpha1.ListingKindApp, v2), wantReason: v1alpha1.ReasonPartnerNotFound, wantLatest: "2.0.0",
		},
		"versions: newest first, sunset ones withdrawn, future releases later": {
			listing: published(newListing(v1alpha1.ListingKindApp, v14, gone, v2, v10, future)), partner: partner(list),
			wantPublished: true, wantReason: v1alpha1.ReasonEntitled,
			wantVersions: []string{"10.0.0-rc.1", "2.0.0", "1.4.2"}, wantLatest: "10.0.0-rc.1",
			wantNotices: 3, wantEvents: []string{ReasonVersionDeprecated, ReasonVersionSunset, ReasonVersionDeprecated},
			wantDeadline: &v14.SunsetAt.Time,
		},
		"certified is shown with the entitlement and an approved claim": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: withClaims(partner(list, claim), v1alpha1.ReadinessClaimCertification),
			claims:        v1alpha1.ListingClaims{Certified: true, SecurityReviewed: true},
			wantPublished: true, wantReason: v1alpha1.ReasonEntitled, wantVersions: []string{"2.0.0"}, wantLatest: "2.0.0",
			wantShown: "Certified", wantMissing: "securityReviewed needs an approved ReadinessClaim of kind SecurityReview",
		},
		"certified without the entitlement is not shown": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: withClaims(partner(list), v1alpha1.ReadinessClaimCertification, v1alpha1.ReadinessClaimSecurityReview),
			claims:        v1alpha1.ListingClaims{Certified: true, SecurityReviewed: true},
			wantPublished: true, wantReason: v1alpha1.ReasonEntitled, wantVersions: []string{"2.0.0"}, wantLatest: "2.0.0",
			wantShown: "SecurityReviewed", wantMissing: "ClaimCertification entitlement",
		},
		"traffic without installs is low adoption": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: partner(list),
			usage:         &v1alpha1.ListingUsage{Views: 500},
			wantPublished: true, wantReason: v1alpha1.ReasonEntitled, wantVersions: []string{"2.0.0"}, wantLatest: "2.0.0", wantLow: true,
		},
		"a few views are not yet low adoption": {
			listing: published(newListing(v1alpha1.ListingKindApp, v2)), partner: partner(list),
			usage:         &v1alpha1.ListingUsage{Views: 99},
			wantPublished: true, wantReason: v1alpha1.ReasonEntitled, wantVersions: []string{"2.0.0"}, wantLatest: "2.0.0",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.listing.Spec.Claims = tc.claims
			tc.listing.Status.Usage = tc.usage
			in := Input{Now: now, Listing: tc.listing, Partner: tc.partner, Grants: tc.grants}
			got := Evaluate(in)
			pub := cond(got.Status, v1alpha1.ConditionPublished)
			if (pub.Status == metav1.ConditionTrue) != tc.wantPublished || pub.Reason != tc.wantReason {
				t.Errorf("Published = %s/%s (%s), want %v/%s", pub.Status, pub.Reason, pub.Message, tc.wantPublished, tc.wantReason)
			}
			if got.Status.ShownClaimsSummary != tc.wantShown {
				t.Errorf("shown claims %q, want %q", got.Status.ShownClaimsSummary, tc.wantShown)
			}
			cv := cond(got.Status, v1alpha1.ConditionClaimsVerified)
			if (tc.wantMissing == "") != (cv.Status == metav1.ConditionTrue) || !strings.Contains(cv.Message, tc.wantMissing) {
				t.Errorf("ClaimsVerified = %s %q, want missing %q", cv.Status, cv.Message, tc.wantMissing)
			}
			if strings.Join(got.Status.PublishedVersions, ",") != strings.Join(tc.wantVersions, ",") || got.Status.LatestVersion != tc.wantLatest {
				t.Errorf("versions %v latest %q, want %v latest %q", got.Status.PublishedVersions, got.Status.LatestVersion, tc.wantVersions, tc.wantLatest)
			}
			if len(got.Status.Notices) != tc.wantNotices {
				t.Errorf("notices %+v, want %d", got.Status.Notices, tc.wantNotices)
			}
			var reasons []string
			for _, e := range got.Events {
				reasons = append(reasons, e.Reason)
			}
			if strings.Join(reasons, ",") != strings.Join(tc.wantEvents, ",") {
				t.Errorf("events %v, want %v", reasons, tc.wantEvents)
			}
			if conditions.True(got.Status.Conditions, v1alpha1.ConditionLowAdoption) != tc.wantLow {
				t.Errorf("LowAdoption = %v, want %v", !tc.wantLow, tc.wantLow)
			}
			if tc.wantDeadline != nil && (got.NextDeadline == nil || !got.NextDeadline.Equal(*tc.wantDeadline)) {
				t.Errorf("NextDeadline = %v, want %v", got.NextDeadline, tc.wantDeadline)
			}

			// Settled: evaluating again with the result stored changes nothing.
			again := tc.listing.DeepCopy()
			again.Status = got.Status
			second := Evaluate(Input{Now: now, Listing: again, Partner: tc.partner, Grants: tc.grants})
			if len(second.Events) != 0 || len(second.Status.Notices) != len(got.Status.Notices) {
				t.Errorf("a second evaluation gave events %v and %d notices", second.Events, len(second.Status.Notices))
			}
		})
	}
}

func TestValidateVersions(t *testing.T) {
	notice := 90 * 24 * time.Hour
	released := v1alpha1.ListingVersion{Version: "1.4.2", ReleasedAt: at(-1000 * time.Hour)}
	deprecated := func(sunset time.Duration) v1alpha1.ListingVersion {
		v := released
		v.DeprecatedAt, v.SunsetAt = at(0), at(sunset)
		return v
	}
	tests := map[string]struct {
		old, new []v1alpha1.ListingVersion
		want     string // substring of the error; "" for none
	}{
		"a deprecation with the full notice":    {old: []v1alpha1.ListingVersion{released}, new: []v1alpha1.ListingVersion{deprecated(notice)}},
		"a deprecation with too short a notice": {old: []v1alpha1.ListingVersion{released}, new: []v1alpha1.ListingVersion{deprecated(24 * time.Hour)}, want: "spec.versions[0].sunsetAt: Invalid value"},
		"a deprecation without a sunset": {
			old:  []v1alpha1.ListingVersion{released},
			new:  []v1alpha1.ListingVersion{{Version: "1.4.2", ReleasedAt: released.ReleasedAt, DeprecatedAt: at(0)}},
			want: "spec.versions[0].sunsetAt: Required value",
		},
		"removing a released version before its sunset": {old: []v1alpha1.ListingVersion{deprecated(notice)}, new: nil, want: "cannot be removed before its sunset"},
		"removing a version after its sunset": {
			old: []v1alpha1.ListingVersion{{Version: "1.0.0", ReleasedAt: at(-9000 * time.Hour), DeprecatedAt: at(-5000 * time.Hour), SunsetAt: at(-time.Hour)}},
		},
		"removing an unreleased version":       {old: []v1alpha1.ListingVersion{{Version: "3.0.0"}}},
		"an unchanged old deprecation is fine": {old: []v1alpha1.ListingVersion{deprecated(time.Hour)}, new: []v1alpha1.ListingVersion{deprecated(time.Hour)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := ValidateVersions(newListing(v1alpha1.ListingKindApp, tc.old...), newListing(v1alpha1.ListingKindApp, tc.new...), notice, now)
			msg := errs.ToAggregate()
			if tc.want == "" {
				if msg != nil {
					t.Fatalf("unexpected error: %v", msg)
				}
				return
			}
			if msg == nil || !strings.Contains(msg.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", msg, tc.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	if Compare("10.0.0", "9.9.9") <= 0 || Compare("1.0.0-rc.1", "1.0.0") >= 0 || Compare("1.2.3", "1.2.3") != 0 {
		t.Fatal("semantic precedence")
	}
}
