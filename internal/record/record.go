// Package record builds the DecisionRecords that keep partnergov's decisions:
// tier changes, reviewers' stage decisions, request outcomes, grant expiries and
// listing publication changes. It is pure: the controllers create what it builds.
//
// Every record's name is derived from the decision itself (the subject's UID and
// what identifies the decision within it), so creating a record again after a
// retry or a crash finds it already there instead of recording twice.
package record

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// maxMessage is the API's limit on DecisionRecordSpec.Message.
const maxMessage = 2048

// name derives a record's name: a readable prefix and a hash of what identifies
// the decision. Names stay within 63 characters.
func name(prefix string, key ...string) string {
	h := sha256.New()
	for _, k := range key {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	if len(prefix) > 63-17 {
		prefix = prefix[:63-17]
	}
	return prefix + "-" + sum
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage-3] + "..."
}

// base fills what every record of partner p's program has.
func base(namespace, recordName string, typ recordsv1alpha1.DecisionType, subject recordsv1alpha1.DecisionSubject, partner, program string,
	at time.Time, retention time.Duration) *recordsv1alpha1.DecisionRecord {
	labels := map[string]string{LabelType: string(typ)}
	if len(validation.IsValidLabelValue(partner)) == 0 {
		labels[LabelPartner] = partner // a longer name is found by spec.partner alone
	}
	return &recordsv1alpha1.DecisionRecord{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: recordName, Labels: labels},
		Spec: recordsv1alpha1.DecisionRecordSpec{
			Type: typ, Subject: subject, Partner: partner, Program: program,
			Time: metav1.NewTime(at), RetainUntil: metav1.NewTime(at.Add(retention)),
		},
	}
}

// Labels on every record, so they can be listed by partner and type.
const (
	LabelPartner = "records.partnergov.io/partner"
	LabelType    = "records.partnergov.io/decision-type"
)

// TierChangeName is the name of the record of tier decision d of partner p.
// A decision that carries its predecessor's seal (previousSeal: made since
// decisions verify alone) is named with its sequence too, so two decisions of
// one partner in the same second with the same from, to and reason (a tier
// flapping) have a record each; one without it keeps the name its record was
// made under.
func TierChangeName(p *v1alpha1.Partner, d v1alpha1.TierDecision) string {
	if d.PreviousSeal != "" {
		return name(p.Name+"-tier", string(p.UID), stamp(d.Time.Time), d.From, d.To, d.Reason, strconv.FormatInt(d.Sequence, 10))
	}
	return name(p.Name+"-tier", string(p.UID), stamp(d.Time.Time), d.From, d.To, d.Reason)
}

// TierChange records decision d of partner p, made by the controller actor.
func TierChange(p *v1alpha1.Partner, d v1alpha1.TierDecision, actor string, retention time.Duration) *recordsv1alpha1.DecisionRecord {
	r := base(p.Namespace, TierChangeName(p, d), recordsv1alpha1.DecisionTierChange,
		recordsv1alpha1.DecisionSubject{Kind: "Partner", Name: p.Name, UID: string(p.UID)}, p.Name, p.Spec.Program, d.Time.Time, retention)
	r.Spec.Actor, r.Spec.Reason, r.Spec.Message = actor, d.Reason, clip(d.Message)
	r.Spec.From, r.Spec.To, r.Spec.Request = d.From, d.To, d.Request
	r.Spec.Evidence = evidence(d.Evidence)
	r.Spec.PolicyGenerations = recordsv1alpha1.PolicyGenerations{Tier: d.TierGeneration, Program: d.ProgramGeneration}
	return r
}

// evidence copies a tier decision's evidence into the record's own type.
func evidence(in []v1alpha1.EvidenceValue) []recordsv1alpha1.EvidenceValue {
	if len(in) == 0 {
		return nil
	}
	out := make([]recordsv1alpha1.EvidenceValue, len(in))
	for i, e := range in {
		out[i] = recordsv1alpha1.EvidenceValue{Metric: e.Metric, Value: string(e.Value), ObservedAt: e.ObservedAt}
	}
	return out
}

// StageDecisionName is the name of the record of request q's stage decision
// at index i of status.decisions.
func StageDecisionName(q *v1alpha1.ExceptionRequest, i int) string {
	return name(q.Name+"-decision", string(q.UID), strconv.Itoa(i))
}

// StageDecisions records the decisions of request q from index from on; each
// decision is stamped by the webhook with its reviewer and time. Decisions that
// sealed rejects (written past the webhook) are not recorded: they never count.
func StageDecisions(q *v1alpha1.ExceptionRequest, program string, from int, retention time.Duration,
	sealed func(int, v1alpha1.ReviewDecision) bool) []*recordsv1alpha1.DecisionRecord {
	var out []*recordsv1alpha1.DecisionRecord
	for i := from; i < len(q.Status.Decisions); i++ {
		d := q.Status.Decisions[i]
		if sealed != nil && !sealed(i, d) {
			continue
		}
		at := q.CreationTimestamp.Time
		if d.Time != nil {
			at = d.Time.Time
		}
		r := base(q.Namespace, StageDecisionName(q, i), recordsv1alpha1.DecisionStageDecision,
			requestSubject(q), q.Spec.Partner, program, at, retention)
		r.Spec.Actor, r.Spec.Reason, r.Spec.Message = orUnknown(d.Reviewer), string(d.Decision), clip(d.Rationale)
		r.Spec.Request, r.Spec.Stage = q.Name, d.Stage
		r.Spec.PolicyGenerations.ReviewPath = pathGeneration(q)
		out = append(out, r)
	}
	return out
}

// OutcomeName is the name of the record of request q reaching final phase
// phase (Outcome): one per phase, so a record of Expired says the request
// expired whatever its stored status says now.
func OutcomeName(q *v1alpha1.ExceptionRequest, phase v1alpha1.RequestPhase) string {
	return name(q.Name+"-"+lower(phase), string(q.UID), string(phase))
}

// Outcome records that request q reached its final phase (Approved, Denied or
// Withdrawn: a RequestOutcome; Expired: a GrantExpiry), decided by the controller
// actor at the transition time of the phase's condition. Nil for other phases.
func Outcome(q *v1alpha1.ExceptionRequest, program, actor string, retention time.Duration) *recordsv1alpha1.DecisionRecord {
	typ := recordsv1alpha1.DecisionRequestOutcome
	cond := ""
	switch q.Status.Phase {
	case v1alpha1.PhaseApproved:
		cond = v1alpha1.ConditionApproved
	case v1alpha1.PhaseDenied:
		cond = v1alpha1.ConditionDenied
	case v1alpha1.PhaseWithdrawn:
		cond = v1alpha1.ConditionWithdrawn
	case v1alpha1.PhaseExpired:
		cond, typ = v1alpha1.ConditionExpired, recordsv1alpha1.DecisionGrantExpiry
	default:
		return nil
	}
	at, reason, message := q.CreationTimestamp.Time, string(q.Status.Phase), ""
	for _, c := range q.Status.Conditions {
		if c.Type == cond {
			at, reason, message = c.LastTransitionTime.Time, c.Reason, c.Message
		}
	}
	r := base(q.Namespace, OutcomeName(q, q.Status.Phase), typ,
		requestSubject(q), q.Spec.Partner, program, at, retention)
	r.Spec.Actor, r.Spec.Reason, r.Spec.Message = actor, reason, clip(message)
	r.Spec.To, r.Spec.Request = string(q.Status.Phase), q.Name
	r.Spec.PolicyGenerations.ReviewPath = pathGeneration(q)
	return r
}

// Publication records listing l's change to published (or unpublished), as its
// Published condition c says.
// first says it is the listing's first publication decision (it had no state before).
func Publication(l *v1alpha1.Listing, c metav1.Condition, first bool, program, actor string, retention time.Duration) *recordsv1alpha1.DecisionRecord {
	to, from := "Unpublished", "Published"
	if c.Status == metav1.ConditionTrue {
		to, from = from, to
	}
	if first {
		from = "" // the listing's first publication decision
	}
	r := base(l.Namespace, name(l.Name+"-publication", string(l.UID), stamp(c.LastTransitionTime.Time), string(c.Status)),
		recordsv1alpha1.DecisionListingPublication, recordsv1alpha1.DecisionSubject{Kind: "Listing", Name: l.Name, UID: string(l.UID)},
		l.Spec.Partner, program, c.LastTransitionTime.Time, retention)
	r.Spec.Actor, r.Spec.Reason, r.Spec.Message = actor, c.Reason, clip(c.Message)
	r.Spec.From, r.Spec.To = from, to
	return r
}

func requestSubject(q *v1alpha1.ExceptionRequest) recordsv1alpha1.DecisionSubject {
	return recordsv1alpha1.DecisionSubject{Kind: "ExceptionRequest", Name: q.Name, UID: string(q.UID)}
}

func pathGeneration(q *v1alpha1.ExceptionRequest) int64 {
	if q.Status.ReviewPath == nil {
		return 0
	}
	return q.Status.ReviewPath.Generation
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func lower(p v1alpha1.RequestPhase) string {
	b := []byte(p)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Describe is a one-line summary of a record, for `kubectl partnergov history`.
func Describe(r *recordsv1alpha1.DecisionRecord) string {
	s := r.Spec
	switch s.Type {
	case recordsv1alpha1.DecisionTierChange:
		return fmt.Sprintf("tier %s -> %s (%s)", dash(s.From), dash(s.To), s.Reason)
	case recordsv1alpha1.DecisionStageDecision:
		return fmt.Sprintf("%s stage %s of %s", s.Reason, s.Stage, s.Request)
	case recordsv1alpha1.DecisionListingPublication:
		return fmt.Sprintf("listing %s %s (%s)", s.Subject.Name, s.To, s.Reason)
	default:
		return fmt.Sprintf("request %s %s (%s)", s.Request, s.To, s.Reason)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Expired returns the records whose retention has passed at now: the controller
// prunes them.
func Expired(records []recordsv1alpha1.DecisionRecord, now time.Time) []*recordsv1alpha1.DecisionRecord {
	var out []*recordsv1alpha1.DecisionRecord
	for i := range records {
		if !now.Before(records[i].Spec.RetainUntil.Time) {
			out = append(out, &records[i])
		}
	}
	return out
}

// Final reports whether a request phase is one a request ends in (an Approved
// request may still expire): reaching it is recorded as an outcome.
func Final(p v1alpha1.RequestPhase) bool {
	return p == v1alpha1.PhaseApproved || p == v1alpha1.PhaseDenied || p == v1alpha1.PhaseExpired || p == v1alpha1.PhaseWithdrawn
}

// RetainUntil is when decided request q (Approved, Denied or Expired) may be
// deleted: the time of its decision (the latest transition of the phase's
// condition, else its creation) plus retention, the program's recordRetention
// in force when it was decided. Nil for a request that is not decided.
func RetainUntil(q *v1alpha1.ExceptionRequest, retention time.Duration) *metav1.Time {
	cond := map[v1alpha1.RequestPhase]string{
		v1alpha1.PhaseApproved: v1alpha1.ConditionApproved, v1alpha1.PhaseDenied: v1alpha1.ConditionDenied, v1alpha1.PhaseExpired: v1alpha1.ConditionExpired,
	}[q.Status.Phase]
	if cond == "" {
		return nil
	}
	at := q.CreationTimestamp.Time
	for _, c := range q.Status.Conditions {
		if c.Type == cond && c.LastTransitionTime.After(at) {
			at = c.LastTransitionTime.Time
		}
	}
	until := metav1.NewTime(at.Add(retention).UTC())
	return &until
}

// Unrecorded says what request q stores that has no DecisionRecord yet: reviewer
// decisions past status.recordedDecisions, or a final phase that is not
// status.recordedPhase. It is "" when everything is recorded. Deleting a request
// before then would lose those decisions, so the webhook refuses it.
func Unrecorded(q *v1alpha1.ExceptionRequest) string {
	var parts []string
	if n := len(q.Status.Decisions) - int(q.Status.RecordedDecisions); n > 0 {
		parts = append(parts, fmt.Sprintf("%d review decision(s)", n))
	}
	if Final(q.Status.Phase) && q.Status.RecordedPhase != q.Status.Phase {
		parts = append(parts, "its outcome ("+string(q.Status.Phase)+")")
	}
	return strings.Join(parts, " and ")
}

// DealTransitionName is the name of the record of registration d's transition seq.
func DealTransitionName(d *v1alpha1.DealRegistration, seq int64) string {
	return name(d.Name+"-deal", string(d.UID), strconv.FormatInt(seq, 10))
}

// DealTransitionsDropped lists the sequences of the transitions stored after
// recorded (so without their records yet) that history next no longer holds:
// writing next, trimmed to the MaxDealHistory transitions a registration keeps,
// would lose them before they are recorded. A decision does not wait for the
// records store, except for this.
func DealTransitionsDropped(stored, next []v1alpha1.DealEvent, recorded int64) []int64 {
	kept := make(map[int64]bool, len(next))
	for _, e := range next {
		kept[e.Sequence] = true
	}
	var out []int64
	for _, e := range stored {
		if e.Sequence > recorded && !kept[e.Sequence] {
			out = append(out, e.Sequence)
		}
	}
	return out
}

// DealTransitions records the transitions of registration d stored after
// status.recordedSequence, decided by the controller actor under its program's
// rules (a reviewer's part is recorded on the review request).
func DealTransitions(d *v1alpha1.DealRegistration, program, actor string, retention time.Duration) []*recordsv1alpha1.DecisionRecord {
	var out []*recordsv1alpha1.DecisionRecord
	from := ""
	for _, e := range d.Status.History {
		if e.Sequence > d.Status.RecordedSequence {
			r := base(d.Namespace, DealTransitionName(d, e.Sequence), recordsv1alpha1.DecisionDealTransition,
				recordsv1alpha1.DecisionSubject{Kind: "DealRegistration", Name: d.Name, UID: string(d.UID)}, d.Spec.Partner, program, e.Time.Time, retention)
			r.Spec.Actor, r.Spec.Reason, r.Spec.Message = actor, orUnknown(e.Reason), clip(e.Message)
			r.Spec.From, r.Spec.To, r.Spec.Request = from, string(e.Phase), d.Status.Request
			out = append(out, r)
		}
		from = string(e.Phase)
	}
	return out
}
