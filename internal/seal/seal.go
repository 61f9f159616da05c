// Package seal signs what only partnergov's webhooks and controller may write
// (evidence provenance, review decisions, tier decisions) with a keyed MAC, so
// that state written while the webhooks were absent (an uninstall, a changed
// failure policy) is recognised and not honoured. It is pure: the keys come from
// the manager's configuration.
package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

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

// Verify reports whether seal seals parts under one of the keys.
func (k *Keys) Verify(seal string, parts ...string) bool {
	if k == nil {
		return true
	}
	if seal == "" {
		return false
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

// Tier is what a tier decision's seal covers.
func Tier(partnerUID string, d v1alpha1.TierDecision) []string {
	return []string{"tier", partnerUID, stamp(d.Time.Time), d.From, d.To, d.Reason, d.Request}
}
