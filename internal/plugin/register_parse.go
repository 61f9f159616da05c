package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
)

// oneOf matches s to one of the API's spellings, ignoring case.
func oneOf[T ~string](s string, values ...T) (T, bool) {
	for _, v := range values {
		if strings.EqualFold(s, string(v)) {
			return v, true
		}
	}
	return "", false
}

// parseWhen reads a date (2027-03-31, midnight UTC) or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2027-03-31) or an RFC 3339 time (2027-03-31T17:00:00Z)", s)
}

// parseInfluencer reads partner:role[:namespace][@time].
func parseInfluencer(raw string, now time.Time) (v1alpha1.Influencer, error) {
	var inf v1alpha1.Influencer
	usage := fmt.Errorf("%q is not partner:role[:namespace][@time], such as globex-si:TechnicalWin or globex-si:Introduction:partners@2026-10-01", raw)
	who, at, timed := strings.Cut(strings.TrimSpace(raw), "@")
	parts := strings.Split(who, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return inf, usage
	}
	inf.Partner = parts[0]
	role, ok := oneOf(parts[1], v1alpha1.InfluenceIntroduction, v1alpha1.InfluenceTechnicalWin, v1alpha1.InfluenceImplementation, v1alpha1.InfluenceMarketplace)
	if !ok {
		return inf, fmt.Errorf("%q: role %q is not Introduction, TechnicalWin, Implementation or Marketplace", raw, parts[1])
	}
	inf.Role = role
	if len(parts) == 3 {
		if parts[2] == "" {
			return inf, usage
		}
		inf.Namespace = parts[2]
	}
	inf.At = metav1.NewTime(now.UTC().Truncate(time.Second))
	if timed {
		t, err := parseWhen(at)
		if err != nil {
			return inf, fmt.Errorf("%q: %v", raw, err)
		}
		inf.At = metav1.NewTime(t)
	}
	return inf, nil
}

// maxGeneratedName keeps generated names short enough for kubectl's columns
// and for the names derived from them (<name>-review-<uid>).
const maxGeneratedName = 63

// GeneratedName is the name of a registration registered without one:
// <partner>-<customer domain>-<product line>, the domain reduced as the
// controller compares it when it can be (www.Acme.com/contact is acme-com), in
// DNS characters; a name longer than 63 characters is cut and ends with a hash
// of the whole. The same row registered twice gets the same name, so the
// second is refused as already existing instead of registering twice.
func GeneratedName(partner, domain, productLine string) string {
	d, err := deal.CanonicalDomain(domain, nil)
	if err != nil {
		d = domain
	}
	full := dnsWords(partner) + "-" + dnsWords(d) + "-" + dnsWords(productLine)
	if len(full) <= maxGeneratedName {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	return strings.TrimRight(full[:maxGeneratedName-9], "-") + "-" + hex.EncodeToString(sum[:])[:8]
}

// dnsWords lower-cases s and joins its runs of letters and digits with dashes.
func dnsWords(s string) string {
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		words = append(words, w)
	}
	return strings.Join(words, "-")
}
