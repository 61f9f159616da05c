package review

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// t0 is when the test requests are created.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func mtime(d time.Duration) *metav1.Time { t := metav1.NewTime(at(d)); return &t }

func dec(s string) *v1alpha1.Decimal { d := v1alpha1.Decimal(s); return &d }

func usd(amount string) *v1alpha1.Money {
	return &v1alpha1.Money{Amount: v1alpha1.Decimal(amount), Currency: "USD"}
}

// stage builds a review stage; opts are "escalation", "overcap", "deny-on-timeout".
func stage(name string, q int32, sla time.Duration, opts ...string) v1alpha1.ReviewStage {
	s := v1alpha1.ReviewStage{Name: name, Quorum: q, SLA: metav1.Duration{Duration: sla}, OnTimeout: v1alpha1.TimeoutEscalate}
	for _, o := range opts {
		switch o {
		case "escalation":
			s.Escalation = true
		case "overcap":
			s.AllowOverCap = true
		case "deny-on-timeout":
			s.OnTimeout = v1alpha1.TimeoutDeny
		default:
			panic("unknown stage option " + o)
		}
	}
	return s
}

// path builds a review path for types with optional bounds ("" = none).
func path(name string, types []v1alpha1.RequestType, above, atMost string, stages ...v1alpha1.ReviewStage) v1alpha1.ReviewPath {
	p := v1alpha1.ReviewPath{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 3},
		Spec: v1alpha1.ReviewPathSpec{
			AppliesTo:       v1alpha1.AppliesTo{Types: types},
			Stages:          stages,
			EscalationOwner: "vp-partners@example.com",
		},
	}
	if above != "" {
		p.Spec.AppliesTo.AmountGreaterThan = dec(above)
	}
	if atMost != "" {
		p.Spec.AppliesTo.AmountAtMost = dec(atMost)
	}
	return p
}

var (
	funds     = []v1alpha1.RequestType{v1alpha1.RequestFunds}
	tierEx    = []v1alpha1.RequestType{v1alpha1.RequestTierException}
	anyTypes  = []v1alpha1.RequestType{v1alpha1.RequestFunds, v1alpha1.RequestTierException, v1alpha1.RequestIncentiveException}
	requester = "rep@partner.example"
)

// request builds a request of typ; amount "" means none.
func request(typ v1alpha1.RequestType, amount string) *v1alpha1.ExceptionRequest {
	r := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-1", Namespace: "partners", Generation: 1},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type:          typ,
			Partner:       "acme",
			Justification: "because the evidence says so",
			Requester:     &v1alpha1.UserInfo{Username: requester},
		},
	}
	if amount != "" {
		r.Spec.Amount = usd(amount)
	}
	return r
}

func approve(stage, reviewer string) v1alpha1.ReviewDecision {
	return v1alpha1.ReviewDecision{Stage: stage, Decision: v1alpha1.DecisionApprove, Rationale: "looks right", Reviewer: reviewer, Generation: 1}
}

func deny(stage, reviewer, why string) v1alpha1.ReviewDecision {
	return v1alpha1.ReviewDecision{Stage: stage, Decision: v1alpha1.DecisionDeny, Rationale: why, Reviewer: reviewer, Generation: 1}
}

// step is one evaluation: decisions appended to the stored status, then Evaluate at t0+at.
type step struct {
	at        time.Duration
	decisions []v1alpha1.ReviewDecision
	paths     []v1alpha1.ReviewPath // replaces the cluster's paths from this step on, when set
	remaining *v1alpha1.Money       // replaces FundsRemaining from this step on, when set
	suspended bool                  // the partner is suspended from this step on
	withdraw  string                // the request's subject is gone from this step on
	used      string                // the approved grant is used up from this step on
	offboard  *time.Duration        // the partner's offboarding takes effect at t0 plus this, from this step on
}

// world is the cluster around a request.
type world struct {
	paths        []v1alpha1.ReviewPath
	owner        string
	remaining    *v1alpha1.Money
	suspended    bool
	withdraw     string
	used         string
	partnerOwner string
	offboard     *time.Duration // the partner's offboarding takes effect at t0 plus this
}

// simulate evaluates req step by step, storing each result as the next status.
// It returns the last result and the reasons of all events, in order.
func simulate(t testing.TB, req *v1alpha1.ExceptionRequest, w world, steps []step) (Result, []string) {
	t.Helper()
	req = req.DeepCopy()
	var res Result
	var events []string
	for _, s := range steps {
		if s.paths != nil {
			w.paths = s.paths
		}
		if s.remaining != nil {
			w.remaining = s.remaining
		}
		req.Status.Decisions = append(req.Status.Decisions, s.decisions...)
		if s.suspended {
			w.suspended = true
		}
		if s.withdraw != "" {
			w.withdraw = s.withdraw
		}
		if s.used != "" {
			w.used = s.used
		}
		if s.offboard != nil {
			w.offboard = s.offboard
		}
		var partner *v1alpha1.Partner
		if w.offboard != nil {
			partner = &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: v1alpha1.PartnerSpec{
				Offboarding: &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(at(*w.offboard))}}}
		}
		res = Evaluate(Input{Now: at(s.at), Request: req, Paths: w.paths, ProgramOwner: w.owner, FundsRemaining: w.remaining,
			PartnerSuspended: w.suspended, Withdraw: w.withdraw, Used: w.used, PartnerOwner: w.partnerOwner, Partner: partner})
		for _, e := range res.Events {
			events = append(events, e.Reason)
		}
		req.Status = *res.Status.DeepCopy()
	}
	return res, events
}

func historyReasons(h []v1alpha1.RequestEvent) []string {
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = e.Reason
		if e.Stage != "" {
			out[i] += "/" + e.Stage
		}
	}
	return out
}

// condSummary renders conditions as "Type=Status/Reason" in the order given.
func condSummary(conds []metav1.Condition, types ...string) string {
	parts := make([]string, 0, len(types))
	for _, typ := range types {
		s := typ + "=absent"
		for _, c := range conds {
			if c.Type == typ {
				s = fmt.Sprintf("%s=%s/%s", typ, c.Status, c.Reason)
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func condMessage(conds []metav1.Condition, typ string) string {
	for _, c := range conds {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}

func withEscalationSLA(p v1alpha1.ReviewPath, d time.Duration) v1alpha1.ReviewPath {
	p = *p.DeepCopy()
	p.Spec.EscalationSLA = &metav1.Duration{Duration: d}
	return p
}

func ptr[T any](v T) *T { return &v }

// withParties returns r with spec.parties set.
func withParties(r *v1alpha1.ExceptionRequest, parties ...string) *v1alpha1.ExceptionRequest {
	r = r.DeepCopy()
	r.Spec.Parties = parties
	return r
}
