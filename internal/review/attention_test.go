package review

import (
	"testing"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestAttentionOf(t *testing.T) {
	const none = time.Duration(-1)
	fundsWorld := world{paths: []v1alpha1.ReviewPath{standard}, owner: owner, remaining: usd("100000")}
	tests := map[string]struct {
		req   *v1alpha1.ExceptionRequest
		world world
		steps []step
		// read is when AttentionOf reads the stored status (an offset from t0).
		read time.Duration
		// breached and ownerDeadline are offsets from t0, or none.
		breached, ownerDeadline time.Duration
		reason                  string
	}{
		"a request within its stage's SLA needs no attention": {
			req: request(v1alpha1.RequestFunds, "5000"), world: fundsWorld,
			steps: []step{{at: 0}}, read: 71 * time.Hour,
			breached: none, ownerDeadline: none,
		},
		"a stage whose deadline passed before the controller acted is breached at its deadline": {
			req: request(v1alpha1.RequestFunds, "5000"), world: fundsWorld,
			steps: []step{{at: 0}}, read: 73 * time.Hour,
			breached: 72 * time.Hour, ownerDeadline: none,
		},
		"a breach escalated to the escalation owner stays breached while the owner decides by the escalation deadline": {
			req: request(v1alpha1.RequestFunds, "5000"), world: fundsWorld,
			steps: []step{{at: 0}, {at: 72 * time.Hour}}, read: 80 * time.Hour,
			breached: 72 * time.Hour, ownerDeadline: 144 * time.Hour, reason: v1alpha1.ReasonSLABreached,
		},
		"a breach escalated to an escalation stage stays breached and no owner decides": {
			req:   request(v1alpha1.RequestFunds, "5000"),
			world: world{paths: []v1alpha1.ReviewPath{escalating}, owner: owner, remaining: usd("100000")},
			steps: []step{{at: 0}, {at: 72 * time.Hour}}, read: 73 * time.Hour,
			breached: 72 * time.Hour, ownerDeadline: none,
		},
		"a request no path governs waits for the program owner without a breach": {
			req:   withExpiry(named(request(v1alpha1.RequestTierException, ""), "gone"), 90*day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}, owner: owner},
			steps: []step{{at: 0}}, read: time.Hour,
			breached: none, ownerDeadline: 72 * time.Hour, reason: v1alpha1.ReasonPathNotFound,
		},
		"the escalation owner's own deadline passing before the controller acted is a breach": {
			req:   withExpiry(named(request(v1alpha1.RequestTierException, ""), "gone"), 90*day),
			world: world{paths: []v1alpha1.ReviewPath{tierPath}, owner: owner},
			steps: []step{{at: 0}}, read: 73 * time.Hour,
			breached: 72 * time.Hour, ownerDeadline: 72 * time.Hour, reason: v1alpha1.ReasonPathNotFound,
		},
		"a request approved after a breach needs no attention": {
			req: request(v1alpha1.RequestFunds, "5000"), world: fundsWorld,
			steps: []step{{at: 0}, {at: 72 * time.Hour}, {at: 73 * time.Hour, decisions: []v1alpha1.ReviewDecision{approve(EscalationStage, "vp@example.com")}}},
			read:  74 * time.Hour, breached: none, ownerDeadline: none,
		},
		"a request denied on timeout needs no attention": {
			req:   request(v1alpha1.RequestFunds, "5000"),
			world: world{paths: []v1alpha1.ReviewPath{strict}, owner: owner, remaining: usd("100000")},
			steps: []step{{at: 0}, {at: 72 * time.Hour}}, read: 80 * time.Hour,
			breached: none, ownerDeadline: none,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, _ := simulate(t, tc.req, tc.world, tc.steps)
			q := tc.req.DeepCopy()
			q.Status = res.Status
			got := AttentionOf(q, at(tc.read))
			check := func(what string, got *time.Time, want time.Duration) {
				t.Helper()
				switch {
				case want == none && got != nil:
					t.Errorf("%s = %s, want none", what, got.Sub(t0))
				case want != none && got == nil:
					t.Errorf("%s = none, want t0+%s", what, want)
				case want != none && !got.Equal(at(want)):
					t.Errorf("%s = t0+%s, want t0+%s", what, got.Sub(t0), want)
				}
			}
			check("SLABreachedAt", got.SLABreachedAt, tc.breached)
			check("OwnerDeadline", got.OwnerDeadline, tc.ownerDeadline)
			if got.EscalationReason != tc.reason {
				t.Errorf("EscalationReason = %q, want %q", got.EscalationReason, tc.reason)
			}
		})
	}
}
