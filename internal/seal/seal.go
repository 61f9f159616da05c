// Package seal signs what only partnergov's webhooks and controller may write
// (evidence provenance, review decisions, tier decisions) with a keyed MAC, so
// that state written while the webhooks were absent (an uninstall, a changed
// failure policy) is recognised and not honoured. It is pure: the keys come from
// the manager's configuration.
package seal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// prefix names the algorithm, so another can follow.
const prefix = "v1."

// Keys signs with the current key and verifies with it or any previous one
// (rotation: add a new current key, keep the old as previous until nothing
// sealed with it is still in use). A nil *Keys means sealing is off: Sign
// returns "" and Verify accepts everything.
type Keys struct {
	current  []byte
	previous [][]byte
	// adopting is on while the state stored before sealing was turned on is
	// being sealed (SetAdopting).
	adopting atomic.Bool
}

// New returns Keys signing with current. Every key must have at least 32 bytes.
func New(current []byte, previous ...[]byte) (*Keys, error) {
	for _, k := range append([][]byte{current}, previous...) {
		if len(k) < 32 {
			return nil, errors.New("a seal key needs at least 32 bytes")
		}
	}
	return &Keys{current: current, previous: previous}, nil
}

// Parse reads keys from a file's contents: one key per line (base64 or raw
// text), the first current and the rest previous; blank lines and lines
// starting with # are skipped.
func Parse(data []byte) (*Keys, error) {
	var keys [][]byte
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(line); err == nil && len(b) >= 32 {
			keys = append(keys, b)
		} else {
			keys = append(keys, []byte(line))
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no seal key in the file")
	}
	return New(keys[0], keys[1:]...)
}

// Generate returns a new random key, base64-encoded as Parse reads it.
func Generate() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// On reports whether sealing is on.
func (k *Keys) On() bool { return k != nil }

func mac(key []byte, parts []string) string {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return prefix + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Sign seals parts with the current key.
func (k *Keys) Sign(parts ...string) string {
	if k == nil {
		return ""
	}
	return mac(k.current, parts)
}

// SetAdopting turns adoption on or off. While it is on, Verify accepts what has
// no seal at all (state stored before sealing was turned on, which the
// manager is sealing once); a seal that is present must still verify.
func (k *Keys) SetAdopting(on bool) { k.adopting.Store(on) }

// Adopting reports whether adoption is on.
func (k *Keys) Adopting() bool { return k != nil && k.adopting.Load() }

// Verify reports whether seal seals parts under one of the keys.
func (k *Keys) Verify(seal string, parts ...string) bool {
	if k == nil {
		return true
	}
	if seal == "" {
		return k.adopting.Load()
	}
	for _, key := range append([][]byte{k.current}, k.previous...) {
		if hmac.Equal([]byte(seal), []byte(mac(key, parts))) {
			return true
		}
	}
	return false
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Evidence is what an evidence entry's seal covers: the partner, the value and
// when it was observed, who reported it and the rule that trusted them.
func Evidence(partnerUID string, e v1alpha1.EvidenceEntry) []string {
	return []string{"evidence", partnerUID, e.Metric, string(e.Value), stamp(e.ObservedAt.Time), e.Source, e.TrustedVia}
}

// Decision is what the seal of decision i of a request covers.
func Decision(requestUID string, i int, d v1alpha1.ReviewDecision) []string {
	at := ""
	if d.Time != nil {
		at = stamp(d.Time.Time)
	}
	return []string{"decision", requestUID, strconv.Itoa(i), d.Stage, string(d.Decision), d.Rationale, d.Reviewer, at, strconv.FormatInt(d.Generation, 10)}
}

// Tier is what a tier decision's seal covers: the decision, its sequence and
// the seal of the decision before it (prev, "" for none), so a sealed decision
// explains nothing anywhere but after its own predecessor. A decision sealed
// before decisions were chained (Sequence 0) is read as it was sealed: without
// sequence or predecessor (TierSealed says when such a decision still counts).
func Tier(partnerUID string, d v1alpha1.TierDecision, prev string) []string {
	parts := []string{"tier", partnerUID, stamp(d.Time.Time), d.From, d.To, d.Reason, d.Request}
	if d.Sequence == 0 {
		return parts
	}
	return append(parts, strconv.FormatInt(d.Sequence, 10), prev)
}

// TierAt is what the seal of history[i] covers (Tier, with history[i-1]'s seal
// as the predecessor's).
func TierAt(partnerUID string, history []v1alpha1.TierDecision, i int) []string {
	prev := ""
	if i > 0 {
		prev = history[i-1].Seal
	}
	return Tier(partnerUID, history[i], prev)
}

// TierSealed reports whether history[i] is a sealed decision in its place: its
// seal verifies over its sequence and its predecessor's seal, and its sequence
// follows its predecessor's. A decision that carries its predecessor's seal
// (PreviousSeal, set by NextTier) verifies over it on its own, so it counts as
// the oldest entry of a history that keeps only the present; in any other
// place it counts only right after the decision whose seal it carries, so a
// replayed older decision still has one place. A decision sealed without
// PreviousSeal verifies over history[i-1]'s seal: as the oldest entry of a
// trimmed history (sequence above 1, predecessor dropped) it can no longer be
// placed, and does not count. A decision sealed before decisions were chained
// (Sequence 0) counts only in a history that holds no chained decision.
func (k *Keys) TierSealed(partnerUID string, history []v1alpha1.TierDecision, i int) bool {
	if k == nil {
		return true
	}
	d := history[i]
	switch {
	case d.Sequence == 0:
		if !k.Adopting() {
			// Adoption chains every decision sealed before chaining
			// (AdoptPartner): once it ended, one without a place is a replay.
			return false
		}
		for _, h := range history {
			if h.Sequence > 0 {
				return false
			}
		}
	case d.PreviousSeal != "":
		if i > 0 && (history[i-1].Seal != d.PreviousSeal || history[i-1].Sequence != d.Sequence-1) {
			return false
		}
		return k.Verify(d.Seal, Tier(partnerUID, d, d.PreviousSeal)...)
	case i == 0 && d.Sequence > 1:
		return false
	case i > 0 && history[i-1].Sequence != d.Sequence-1:
		return false
	}
	return k.Verify(d.Seal, TierAt(partnerUID, history, i)...)
}

// NextTier gives d the sequence after history's newest decision and seals it
// after that decision, whose seal it keeps as d.PreviousSeal.
func (k *Keys) NextTier(partnerUID string, history []v1alpha1.TierDecision, d *v1alpha1.TierDecision) {
	d.Sequence, d.Seal, d.PreviousSeal = 1, "", ""
	prev := ""
	if n := len(history); n > 0 {
		d.Sequence, prev = history[n-1].Sequence+1, history[n-1].Seal
	}
	d.Seal = k.Sign(Tier(partnerUID, *d, prev)...)
	if d.Seal != "" {
		d.PreviousSeal = prev
	}
}

// Path is what the seal of a request's copy of its review path covers: the
// path's name, generation, escalation owner and SLA, same-reviewer rule and
// every stage's name, quorum, SLA, timeout action and escalation and over-cap
// flags.
func Path(requestUID string, p v1alpha1.ResolvedReviewPath) []string {
	sla := ""
	if p.EscalationSLA != nil {
		sla = p.EscalationSLA.Duration.String()
	}
	parts := []string{"path", requestUID, p.Name, strconv.FormatInt(p.Generation, 10), p.EscalationOwner, sla,
		strconv.FormatBool(p.AllowSameReviewerAcrossStages), strconv.Itoa(len(p.Stages))}
	for _, s := range p.Stages {
		parts = append(parts, s.Name, strconv.Itoa(int(s.Quorum)), s.SLA.Duration.String(), string(s.OnTimeout),
			strconv.FormatBool(s.Escalation), strconv.FormatBool(s.AllowOverCap))
	}
	return parts
}

// RequestOutcome is what the seal of a request's outcome (status.outcome)
// covers: the request, the final phase the controller settled it to, when and
// why. The request's UID binds it to that request; its phase and time to one
// settlement of it (a request is approved once: an Approved outcome can only
// be replayed onto the request it was made for, where the grant's expiry, its
// GrantExpiry record and its sealed decisions are still checked).
func RequestOutcome(requestUID string, o v1alpha1.RequestOutcome) []string {
	return []string{"request-outcome", requestUID, string(o.Phase), stamp(o.Time.Time), o.Reason}
}

// Grant is what the seal of a partner's status.grants entry covers: the grant
// and its applied and spent marks.
func Grant(partnerUID string, g v1alpha1.ActiveGrant) []string {
	at := func(t *metav1.Time) string {
		if t == nil {
			return ""
		}
		return stamp(t.Time)
	}
	return []string{"grant", partnerUID, g.Request, string(g.Type), g.Tier, at(g.AppliedAt), at(g.SpentAt)}
}

// Outcome is what the seal of a deal registration's outcome covers: the
// result, the close, the amount and who reported it.
func Outcome(dealUID string, o v1alpha1.DealOutcome) []string {
	amount, currency := "", ""
	if o.Amount != nil {
		amount, currency = string(o.Amount.Amount), o.Amount.Currency
	}
	return []string{"outcome", dealUID, string(o.Result), stamp(o.ClosedAt.Time), amount, currency, o.ReportedBy}
}

// Confirmation is what the seal of an influence confirmation covers: the
// claim as confirmed (partner, namespace, role, time) and who confirmed it.
func Confirmation(dealUID string, c v1alpha1.InfluenceConfirmation) []string {
	return []string{"influence", dealUID, c.Partner, c.Namespace, string(c.Role), stamp(c.At.Time), c.ConfirmedBy}
}

// Standing is what the seal of a deal registration's decided standing
// covers: its phase, approval and protection, its extension's and conflict's
// requests and results, the credit its attribution gives, and its canonical
// domain and conflict keys (fixed once it holds them: KeysSealed).
func Standing(dealUID string, st v1alpha1.DealRegistrationStatus) []string {
	parts := standingV1(dealUID, st)
	parts = append(parts, "keys", st.CanonicalDomain, st.ConflictKey, strconv.Itoa(len(st.ConflictKeys)))
	return append(parts, st.ConflictKeys...)
}

// standingV1 is what a standing's seal covered before it covered the keys:
// such a seal still seals the standing, not the keys.
func standingV1(dealUID string, st v1alpha1.DealRegistrationStatus) []string {
	at := func(t *metav1.Time) string {
		if t == nil {
			return ""
		}
		return stamp(t.Time)
	}
	parts := []string{"standing", dealUID, string(st.Phase), at(st.ApprovedAt), at(st.ProtectedUntil)}
	if e := st.Extension; e != nil {
		parts = append(parts, "extension", e.Request, e.Result)
	}
	if c := st.Conflict; c != nil {
		parts = append(parts, "conflict", c.Request, c.Against.UID, c.Result)
	}
	if a := st.Attribution; a != nil {
		credit := func(c v1alpha1.Credit) []string {
			return []string{c.Namespace, c.Partner, string(c.Role), string(c.Amount.Amount), c.Amount.Currency}
		}
		parts = append(parts, "attribution", strconv.Itoa(len(a.Influenced)))
		if a.Sourced != nil {
			parts = append(parts, credit(*a.Sourced)...)
		}
		for _, c := range a.Influenced {
			parts = append(parts, credit(c)...)
		}
	}
	return parts
}

// StandingSealed reports whether d's decided standing is sealed (true when
// sealing is off, and for a registration not yet decided: no phase), by a
// seal over its keys too or one made before seals covered them (the
// controller seals the keys with its next write).
func (k *Keys) StandingSealed(d *v1alpha1.DealRegistration) bool {
	return d.Status.Phase == "" || k.KeysSealed(d) || (d.Status.Seal != "" && k.Verify(d.Status.Seal, standingV1(string(d.UID), d.Status)...))
}

// KeysSealed reports whether d's stored standing is sealed together with its
// canonical domain and conflict keys (true when sealing is off): only then
// are the stored keys the ones the controller decided.
func (k *Keys) KeysSealed(d *v1alpha1.DealRegistration) bool {
	return d.Status.Phase != "" && k.Verify(d.Status.Seal, Standing(string(d.UID), d.Status)...)
}

// OutcomeSealed reports whether d's outcome is sealed (true when sealing is
// off; false when there is none).
func (k *Keys) OutcomeSealed(d *v1alpha1.DealRegistration) bool {
	o := d.Status.Outcome
	return o != nil && k.Verify(o.Seal, Outcome(string(d.UID), *o)...)
}

// ConfirmationSealed reports whether influence confirmation c of d is sealed.
func (k *Keys) ConfirmationSealed(d *v1alpha1.DealRegistration, c v1alpha1.InfluenceConfirmation) bool {
	return k.Verify(c.Seal, Confirmation(string(d.UID), c)...)
}

// Chain is what the seal of a partner's RecordChain covers: where the partner's
// chain of DecisionRecords ends in namespace (the newest record's sequence and
// digest; the digest covers that whole record).
func Chain(namespace, partner string, sequence int64, digest string) []string {
	return []string{"chain", namespace, partner, strconv.FormatInt(sequence, 10), digest}
}

// ChainHead is what the seal of RecordChain spec s in namespace covers: Chain,
// and the partner's newest recorded tier decision when the head names one (a
// head sealed before it named one still verifies, over Chain alone).
func ChainHead(namespace string, s v1alpha1.RecordChainSpec) []string {
	parts := Chain(namespace, s.Partner, s.Sequence, s.Digest)
	if t := s.NewestTierChange; t != nil {
		parts = append(parts, "newestTierChange", t.Name, stamp(t.Time.Time), t.SubjectUID)
	}
	return parts
}

// Lifecycle is what the seal of a partner's status.lifecycle covers: its
// phase, since and reason, onboardedAt, each onboarding step's name, state,
// due and metAt, what it withholds, and each transition.
func Lifecycle(partnerUID string, lc v1alpha1.PartnerLifecycle) []string {
	at := func(t *metav1.Time) string {
		if t == nil {
			return ""
		}
		return stamp(t.Time)
	}
	parts := []string{"lifecycle", partnerUID, string(lc.Phase), at(lc.Since), lc.Reason, at(lc.OnboardedAt), strconv.Itoa(len(lc.Onboarding))}
	for _, s := range lc.Onboarding {
		parts = append(parts, s.Name, string(s.State), stamp(s.Due.Time), at(s.MetAt))
	}
	parts = append(parts, strconv.Itoa(len(lc.Withheld)))
	for _, w := range lc.Withheld {
		parts = append(parts, string(w))
	}
	parts = append(parts, strconv.Itoa(len(lc.Transitions)))
	for _, t := range lc.Transitions {
		parts = append(parts, stamp(t.Time.Time), string(t.From), string(t.To), t.Reason, t.Message)
	}
	return parts
}

// LifecycleSealed reports whether p's stored lifecycle is sealed (true when
// sealing is off, and when it has none).
func (k *Keys) LifecycleSealed(p *v1alpha1.Partner) bool {
	lc := p.Status.Lifecycle
	return lc == nil || k.Verify(lc.Seal, Lifecycle(string(p.UID), *lc)...)
}

// Lock is what the seal of a DealLock covers: its program and conflict key,
// its holder, when the holder took it (to the microsecond, as stored), until
// when a direct claim runs and the conflict request it was taken through.
func Lock(l v1alpha1.DealLockSpec) []string {
	until := ""
	if l.Until != nil {
		until = stamp(l.Until.Time)
	}
	h := l.Holder
	return []string{"lock", l.Program, l.ConflictKey, h.Kind, h.Namespace, h.Name, h.UID, h.Partner, h.Opportunity,
		l.Since.UTC().Format(microStamp), until, l.TakenThrough}
}

// microStamp is a MicroTime as the API server stores it.
const microStamp = "2006-01-02T15:04:05.000000Z07:00"

// SealLock seals l in place (l.Seal is "" when sealing is off).
func (k *Keys) SealLock(l *v1alpha1.DealLockSpec) {
	l.Seal = ""
	l.Seal = k.Sign(Lock(*l)...)
}

// LockSealed reports whether lock l is sealed (true when sealing is off).
func (k *Keys) LockSealed(l *v1alpha1.DealLock) bool {
	return k.Verify(l.Spec.Seal, Lock(l.Spec)...)
}

// SecretKey is the key of the manager's seal Secret that holds the keys, one per
// line, the current first (the format Parse reads).
const SecretKey = "keys"

// AnnotationAdoption on the seal Secret says the state stored before sealing was
// turned on is still being sealed (value AdoptionPending); the manager removes
// it once everything stored is sealed.
const (
	AnnotationAdoption = "governance.partnergov.io/seal-adoption"
	AdoptionPending    = "pending"
)

// AnnotationFormat on the seal Secret records the seal format the stored state
// was adopted under (Format). A manager that finds an older one (or none) on a
// Secret with keys starts adoption again, so what an older version stored
// without a seal it now requires (a review path's copy, a grant entry) is
// sealed once instead of being ignored; adoption sets it when it ends.
const (
	AnnotationFormat = "governance.partnergov.io/seal-format"
	// Format 4 seals DealLocks and partners' lifecycles; format 5 requests'
	// outcomes (status.outcome: review.AdoptOutcome says which).
	Format = "5"
)

// AdoptPartner seals, in place, the evidence entries, grant entries, lifecycle
// and tier decisions of p that have no seal (stored before sealing was on), chains the tier decisions sealed
// before chaining (Sequence 0), and reports whether it sealed any.
// Entries with a seal, good or bad, are left as they are.
func (k *Keys) AdoptPartner(p *v1alpha1.Partner) bool {
	if k == nil {
		return false
	}
	changed := false
	for i := range p.Status.Evidence {
		if e := &p.Status.Evidence[i]; e.Seal == "" {
			e.Seal, changed = k.Sign(Evidence(string(p.UID), *e)...), true
		}
	}
	for i := range p.Status.Grants {
		if g := &p.Status.Grants[i]; g.Seal == "" {
			g.Seal, changed = k.Sign(Grant(string(p.UID), *g)...), true
		}
	}
	if lc := p.Status.Lifecycle; lc != nil && lc.Seal == "" {
		lc.Seal, changed = k.Sign(Lifecycle(string(p.UID), *lc)...), true
	}
	h := p.Status.History
	legacy := false
	for _, d := range h {
		legacy = legacy || (d.Sequence == 0 && d.Seal != "")
	}
	if !legacy {
		for i := range h {
			if d := &h[i]; d.Seal == "" {
				// Chained after the entry before it, as the engine seals a new decision.
				k.NextTier(string(p.UID), h[:i], d)
				changed = true
			}
		}
		return changed
	}
	// Decisions sealed before chaining (Sequence 0) carry no place: the stored
	// order is what adoption trusts, so each whose seal verifies is chained in
	// it, with the chained decisions after it sealed again after their new
	// predecessor. One whose seal does not verify keeps it, and counts nowhere.
	valid := make([]bool, len(h))
	for i, d := range h {
		switch {
		case d.Seal == "":
			valid[i] = true
		case d.Sequence == 0:
			valid[i] = k.Verify(d.Seal, Tier(string(p.UID), d, "")...)
		default:
			valid[i] = k.Verify(d.Seal, TierAt(string(p.UID), h, i)...) && (i == 0 || h[i-1].Sequence == d.Sequence-1)
		}
	}
	for i := range h {
		if valid[i] {
			k.NextTier(string(p.UID), h[:i], &h[i])
		}
	}
	return true
}

// AdoptDeal seals, in place, d's decided standing, reported outcome and
// influence confirmations that have no seal, and reports whether it sealed any.
func (k *Keys) AdoptDeal(d *v1alpha1.DealRegistration) bool {
	if k == nil {
		return false
	}
	changed := false
	if d.Status.Phase != "" && d.Status.Seal == "" {
		d.Status.Seal, changed = k.Sign(Standing(string(d.UID), d.Status)...), true
	}
	if o := d.Status.Outcome; o != nil && o.Seal == "" {
		o.Seal, changed = k.Sign(Outcome(string(d.UID), *o)...), true
	}
	for i := range d.Status.InfluenceConfirmations {
		if c := &d.Status.InfluenceConfirmations[i]; c.Seal == "" {
			c.Seal, changed = k.Sign(Confirmation(string(d.UID), *c)...), true
		}
	}
	return changed
}

// AdoptRequest seals, in place, q's copy of its review path and the review
// decisions of q that have no seal, and reports whether it sealed any.
func (k *Keys) AdoptRequest(q *v1alpha1.ExceptionRequest) bool {
	if k == nil {
		return false
	}
	changed := false
	if p := q.Status.ReviewPath; p != nil && p.Seal == "" {
		p.Seal, changed = k.Sign(Path(string(q.UID), *p)...), true
	}
	for i := range q.Status.Decisions {
		if d := &q.Status.Decisions[i]; d.Seal == "" {
			d.Seal, changed = k.Sign(Decision(string(q.UID), i, *d)...), true
		}
	}
	return changed
}
