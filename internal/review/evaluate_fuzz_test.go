package review

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// FuzzEvaluate moves a request along a fuzzed review path with fuzzed decisions,
// stages, phases and times, and checks Evaluate's invariants: it does not panic,
// does not modify its input, a Denied or Expired request stays so (and an Approved
// one can only expire), the decisions are copied unchanged, and evaluating again
// with the result stored is a fixed point with no events.
//
// stageSpec has two bytes per stage: quorum (low nibble) and flags (escalation,
// allowOverCap, deny on timeout); decisions has three bytes per decision: stage,
// verdict and reviewer.
func FuzzEvaluate(f *testing.F) {
	f.Add(uint8(0), "5000", "10000", []byte{1, 0, 2, 0}, []byte{0, 0, 1, 1, 0, 2}, int64(1), int64(0), uint8(0), true)
	f.Add(uint8(0), "50000", "10000", []byte{1, 0, 1, 2}, []byte{0, 0, 1, 1, 0, 2}, int64(200), int64(0), uint8(0), true)
	f.Add(uint8(1), "", "", []byte{2, 4, 1, 1}, []byte{0, 1, 1}, int64(100), int64(48), uint8(0), false)
	f.Add(uint8(2), "", "", []byte{1, 0}, []byte{0, 0, 1}, int64(5000), int64(24), uint8(4), false)
	f.Add(uint8(0), "5000", "", []byte{1, 0}, []byte{0, 0, 0, 0, 1, 2, 7, 1, 3}, int64(0), int64(0), uint8(5), true)
	f.Add(uint8(3), "", "", []byte{}, []byte{}, int64(-10), int64(-1), uint8(6), false)
	f.Add(uint8(0), "x", "-1", []byte{0xff, 0xff, 0xff, 0xff, 0, 0}, []byte{9, 9, 9, 2, 0, 0}, int64(1<<40), int64(1<<40), uint8(255), true)

	types := []v1alpha1.RequestType{
		v1alpha1.RequestFunds, v1alpha1.RequestTierException, v1alpha1.RequestIncentiveException,
		v1alpha1.RequestReadinessClaim, v1alpha1.RequestListingException, v1alpha1.RequestTierPromotion,
	}
	reviewers := []string{"ana@example.com", "bo@example.com", requester, "vp-partners@example.com"}

	f.Fuzz(func(t *testing.T, typ uint8, amount, remaining string, stageSpec, decisionSpec []byte,
		nowHours, expiresHours int64, storedPhase uint8, usePath bool,
	) {
		hours := func(h int64) time.Duration { return time.Duration(h%(1<<20)) * time.Hour }
		req := request(types[int(typ)%len(types)], amount)
		if expiresHours != 0 {
			req.Spec.Expires = mtime(hours(expiresHours))
		}

		var stages []v1alpha1.ReviewStage
		names := []string{"manager", "finance", "legal", "vp", "board"}
		for i := 0; i+1 < len(stageSpec) && len(stages) < len(names); i += 2 {
			var opts []string
			flags := stageSpec[i+1]
			if flags&1 != 0 {
				opts = append(opts, "escalation")
			}
			if flags&2 != 0 {
				opts = append(opts, "overcap")
			}
			if flags&4 != 0 {
				opts = append(opts, "deny-on-timeout")
			}
			stages = append(stages, stage(names[len(stages)], int32(stageSpec[i]%4), time.Duration(1+stageSpec[i]>>4)*24*time.Hour, opts...))
		}
		var paths []v1alpha1.ReviewPath
		if usePath && len(stages) > 0 {
			paths = append(paths, path("fuzzed", types, "", "", stages...))
		}
		var funds *v1alpha1.Money
		if remaining != "" {
			funds = usd(remaining)
		}
		in := Input{Now: t0, Request: req, Paths: paths, ProgramOwner: "owner@example.com", FundsRemaining: funds}

		// The stored status is what a first evaluation at creation wrote, with the
		// phase optionally forced, and the fuzzed decisions appended.
		first := Evaluate(in)
		req.Status = *first.Status.DeepCopy()
		switch storedPhase % 8 {
		case 5:
			req.Status.Phase = v1alpha1.PhaseApproved
		case 6:
			req.Status.Phase = v1alpha1.PhaseDenied
		case 7:
			req.Status.Phase = v1alpha1.PhaseExpired
		}
		stageNames := append(append([]string(nil), names...), EscalationStage, "")
		for i := 0; i+2 < len(decisionSpec); i += 3 {
			stg := stageNames[int(decisionSpec[i])%len(stageNames)]
			who := reviewers[int(decisionSpec[i+2])%len(reviewers)]
			if decisionSpec[i+1]%2 == 0 {
				req.Status.Decisions = append(req.Status.Decisions, approve(stg, who))
			} else {
				req.Status.Decisions = append(req.Status.Decisions, deny(stg, who, "not this quarter"))
			}
		}
		in.Now = t0.Add(hours(nowHours))
		storedReq, storedPaths := req.DeepCopy(), deepCopyPaths(paths)
		var storedFunds *v1alpha1.Money
		if funds != nil {
			storedFunds = funds.DeepCopy()
		}

		r := Evaluate(in)

		if !reflect.DeepEqual(in.Request, storedReq) || !reflect.DeepEqual(in.Paths, storedPaths) || !reflect.DeepEqual(in.FundsRemaining, storedFunds) {
			t.Fatalf("Evaluate modified its input")
		}
		switch was := storedReq.Status.Phase; was {
		case v1alpha1.PhaseDenied, v1alpha1.PhaseExpired:
			if r.Status.Phase != was {
				t.Fatalf("final phase %s changed to %s", was, r.Status.Phase)
			}
		case v1alpha1.PhaseApproved:
			if r.Status.Phase != was && r.Status.Phase != v1alpha1.PhaseExpired {
				t.Fatalf("Approved changed to %s; it can only expire", r.Status.Phase)
			}
		}
		if !equality.Semantic.DeepEqual(r.Status.Decisions, storedReq.Status.Decisions) {
			t.Fatalf("decisions changed:\nstored %+v\nresult %+v", storedReq.Status.Decisions, r.Status.Decisions)
		}

		again := storedReq.DeepCopy()
		again.Status = *r.Status.DeepCopy()
		in.Request = again
		r2 := Evaluate(in)
		if len(r2.Events) > 0 {
			t.Fatalf("evaluating again made transitions %+v (phase %s -> %s, first events %+v)", r2.Events, r.Status.Phase, r2.Status.Phase, r.Events)
		}
		if !equality.Semantic.DeepEqual(r2.Status, r.Status) {
			t.Fatalf("evaluating again changed the status:\nfirst  %+v\nsecond %+v", r.Status, r2.Status)
		}
	})
}

func deepCopyPaths(paths []v1alpha1.ReviewPath) []v1alpha1.ReviewPath {
	var out []v1alpha1.ReviewPath
	for _, p := range paths {
		out = append(out, *p.DeepCopy())
	}
	return out
}
