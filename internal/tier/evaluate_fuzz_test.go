package tier

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// FuzzEvaluate builds an Input from fuzzed evidence values, observation times,
// thresholds, held tier and grants, and checks Evaluate's invariants: it does not
// panic, does not modify its input, evaluating its result again is a fixed point
// with no Decision, and a suspended partner holds no entitlements.
func FuzzEvaluate(f *testing.F) {
	// revenue, wins, engineers, escalations (value, age in hours); silver's revenue
	// threshold; held tier (index into "", registered..platinum); suspended;
	// grant kind; grant expiry in hours; deadline in hours (0 = none).
	f.Add("150000", int64(24), "0", int64(24), "3", int64(24), "0", int64(24), "100000", uint8(0), false, uint8(0), int64(0), int64(0))
	f.Add("600000", int64(24), "6", int64(24), "3", int64(24), "1", int64(24), "100000", uint8(3), false, uint8(1), int64(720), int64(0))
	f.Add("2500000", int64(1), "25", int64(1), "9", int64(1), "0", int64(1), "100000", uint8(3), false, uint8(2), int64(0), int64(0))
	f.Add("600000", int64(24), "6", int64(24), "3", int64(24), "9", int64(24), "100000", uint8(3), false, uint8(0), int64(0), int64(120))
	f.Add("600000", int64(2400), "6", int64(2400), "3", int64(24), "1", int64(800), "100000", uint8(4), true, uint8(3), int64(-5), int64(-10))
	f.Add("-1.5", int64(-1), "x", int64(0), "1e6", int64(1<<40), "0.000000001", int64(-1<<40), "not-a-number", uint8(255), true, uint8(255), int64(1<<50), int64(1<<50))
	f.Add("999999999999999999.999999999", int64(0), "0", int64(0), "0", int64(0), "0", int64(0), "0", uint8(1), false, uint8(4), int64(1), int64(-1))

	f.Fuzz(func(t *testing.T,
		revValue string, revAge int64, winsValue string, winsAge int64,
		engValue string, engAge int64, escValue string, escAge int64,
		threshold string, held uint8, isSuspended bool,
		grantKind uint8, grantExpiresHours int64, deadlineHours int64,
	) {
		hours := func(h int64) time.Duration { return time.Duration(h%(1<<20)) * time.Hour }
		ev := func(metric, value string, age int64) v1alpha1.EvidenceEntry {
			return observedAgo(entry(metric, v1alpha1.Decimal(value)), hours(age))
		}
		tiers := ladderTiers()
		for i := range tiers {
			if tiers[i].Name == "silver" {
				tiers[i].Spec.Requirements[0].Threshold = v1alpha1.Decimal(threshold)
			}
		}
		opts := []option{
			withTiers(tiers...),
			withEvidence(ev(revenue, revValue, revAge), ev(wins, winsValue, winsAge),
				ev(engineers, engValue, engAge), ev(escalate, escValue, escAge)),
		}
		names := []string{"", "registered", "silver", "gold", "platinum"}
		if h := names[int(held)%len(names)]; h != "" {
			opts = append(opts, holding(h))
		}
		if isSuspended {
			opts = append(opts, suspended)
		}
		var expires *time.Time
		if grantExpiresHours != 0 {
			expires = at(hours(grantExpiresHours))
		}
		switch grantKind % 5 {
		case 1:
			opts = append(opts, withGrant(tierException("keep-gold", "gold", expires)))
		case 2:
			opts = append(opts, withGrant(tierPromotion("promote-platinum", "platinum", expires)))
		case 3:
			opts = append(opts, withGrant(incentive("implement", expires, v1alpha1.EntitlementImplement, v1alpha1.EntitlementClaimCertification)))
		case 4:
			opts = append(opts, withGrant(tierException("keep-unknown", "no-such-tier", expires)))
		}
		if deadlineHours != 0 {
			opts = append(opts, withDeadline(hours(deadlineHours)))
		}
		in := input(opts...)
		before := snapshot(in)

		r := Evaluate(in)

		if !reflect.DeepEqual(in, before) {
			t.Fatalf("Evaluate modified its input:\nbefore %+v\nafter  %+v", before.Partner.Status, in.Partner.Status)
		}
		if in.Partner.Spec.Suspended && len(r.Status.Entitlements) > 0 {
			t.Fatalf("suspended partner holds entitlements: %+v", r.Status.Entitlements)
		}

		again := snapshot(in)
		again.Partner.Status = *r.Status.DeepCopy()
		r2 := Evaluate(again)
		if r2.Decision != nil {
			t.Fatalf("evaluating the result again made a decision %s (first: %s)", describeDecision(r2.Decision), describeDecision(r.Decision))
		}
		if !equality.Semantic.DeepEqual(r2.Status, r.Status) {
			t.Fatalf("evaluating the result again changed the status:\nfirst  %+v\nsecond %+v", r.Status, r2.Status)
		}
		if r2.PromotionRequest != r.PromotionRequest {
			t.Fatalf("promotion request changed from %q to %q", r.PromotionRequest, r2.PromotionRequest)
		}
	})
}
