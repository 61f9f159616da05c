// Package deal holds partnergov's rules of engagement for deal registration:
// who may register what, how a customer is recognised whatever the spelling of
// its domain, which registration holds a customer and product line, and how a
// registration moves through its phases. It is pure: the controller and the
// webhooks feed it what they read.
package deal

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// FreeMailDomains are mailbox providers whose domain never identifies a
// customer; a program can add more (spec.dealRegistration.freeMailDomains).
var FreeMailDomains = []string{
	"126.com", "163.com", "aol.com", "fastmail.com", "gmail.com", "gmx.com", "gmx.de", "gmx.net", "googlemail.com",
	"hey.com", "hotmail.com", "icloud.com", "live.com", "mac.com", "mail.com", "me.com", "msn.com", "outlook.com",
	"proton.me", "protonmail.com", "qq.com", "tutanota.com", "web.de", "yahoo.com", "yandex.com", "yandex.ru",
	"ymail.com", "zoho.com",
}

// CanonicalDomain reduces what a partner typed as the customer's domain to the
// domain registrations are compared by: lower case, without scheme, user, path,
// port or trailing dot, reduced to the registrable domain by the public suffix
// list (www.eu.acme.co.uk is acme.co.uk), then mapped through the program's
// aliases. It refuses what cannot identify a customer: an IP address, a public
// suffix alone, a free-mail domain or any of its subdomains, and an alias whose
// canonical domain is a free-mail domain.
func CanonicalDomain(raw string, rules *v1alpha1.DealRegistrationRules) (string, error) {
	host, err := hostOf(raw)
	if err != nil {
		return "", err
	}
	domain, err := registrableDomain(host)
	if err != nil {
		return "", err
	}
	if m := freeMailOf(host, rules); m != "" {
		return "", fmt.Errorf("%s is a free-mail domain and does not identify a customer; give the customer's own domain", m)
	}
	if rules != nil {
		for _, a := range rules.DomainAliases {
			if canonicalOf(a.Domain) == domain {
				if c := canonicalOf(a.Canonical); c != "" {
					if m := freeMailOf(c, rules); m != "" {
						return "", fmt.Errorf("the program's domainAliases map %s to %s, a free-mail domain, which does not identify a customer", domain, m)
					}
					return c, nil
				}
			}
		}
	}
	return domain, nil
}

// AliasRefusals names the program's domainAliases that cannot stand, one
// message per entry naming its index: a canonical domain that is a free-mail
// domain (or a subdomain of one) would make every registration of the alias a
// registration of a mailbox provider.
func AliasRefusals(rules *v1alpha1.DealRegistrationRules) map[int]string {
	if rules == nil {
		return nil
	}
	out := map[int]string{}
	for i, a := range rules.DomainAliases {
		host, err := hostOf(a.Canonical)
		if err != nil {
			continue
		}
		if m := freeMailOf(host, rules); m != "" {
			out[i] = fmt.Sprintf("%s is a free-mail domain (%s): an alias may not point at a free-mail domain, which does not identify a customer", a.Canonical, m)
		}
	}
	return out
}

// canonicalOf is the registrable domain of an alias entry, "" when it has none.
func canonicalOf(raw string) string {
	host, err := hostOf(raw)
	if err != nil {
		return ""
	}
	d, err := registrableDomain(host)
	if err != nil {
		return ""
	}
	return d
}

// FreeMail reports whether domain (a host or registrable domain, lower case)
// is a free-mail domain, well known or listed by the program, or a subdomain
// of one.
func FreeMail(domain string, rules *v1alpha1.DealRegistrationRules) bool {
	return freeMailOf(domain, rules) != ""
}

// freeMailOf is the free-mail entry host is or lies under ("" when none): an
// entry matches itself and its subdomains (mail.corp-isp.example matches
// eu.mail.corp-isp.example), whatever its spelling in the program.
func freeMailOf(host string, rules *v1alpha1.DealRegistrationRules) string {
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	under := func(entry string) bool {
		return entry != "" && (host == entry || strings.HasSuffix(host, "."+entry))
	}
	for _, d := range FreeMailDomains {
		if under(d) {
			return d
		}
	}
	if rules == nil {
		return ""
	}
	for _, d := range rules.FreeMailDomains {
		e := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if h, err := hostOf(e); err == nil {
			e = h
		}
		e = strings.TrimPrefix(e, "www.")
		if under(e) {
			return e
		}
	}
	return ""
}

// hostOf extracts the lower-case host from a domain, an e-mail address or a URL.
func hostOf(raw string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return "", fmt.Errorf("the domain is empty")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a domain: %v", raw, err)
	}
	host := strings.TrimSuffix(u.Hostname(), ".")
	if host == "" {
		return "", fmt.Errorf("%q has no domain", raw)
	}
	if net.ParseIP(host) == nil {
		// One spelling per domain: full-width letters, an ideographic full
		// stop and upper case map to ASCII, an internationalised name to its
		// punycode (xn--), so no spelling of a customer gives another key or
		// escapes the free-mail list.
		for _, r := range host {
			if !(r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\u3002' || r == '\uff0e' || r == '\uff61') {
				return "", fmt.Errorf("%q is not a domain: it contains %q", raw, r)
			}
		}
		a, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return "", fmt.Errorf("%q is not a domain: %v", raw, err)
		}
		host = strings.TrimSuffix(a, ".")
	}
	if net.ParseIP(host) != nil {
		return "", fmt.Errorf("%q is an IP address, not a customer's domain", raw)
	}
	for _, r := range host {
		if !(r == '.' || r == '-' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9')) {
			return "", fmt.Errorf("%q is not a domain: it contains %q", raw, r)
		}
	}
	if host == "" {
		return "", fmt.Errorf("%q has no domain", raw)
	}
	return host, nil
}

// registrableDomain is the registrable domain of host (eTLD+1).
func registrableDomain(host string) (string, error) {
	host = strings.TrimPrefix(host, "www.")
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return "", fmt.Errorf("%s is not a registrable domain (a public suffix alone cannot identify a customer)", host)
	}
	return d, nil
}

// ConflictKey is the first of ConflictKeys: the key by canonical domain,
// which every registration has (status.conflictKey).
func ConflictKey(program string, c v1alpha1.Customer, canonicalDomain, productLine string) string {
	return ConflictKeys(program, c, canonicalDomain, productLine)[0]
}

// ConflictKeys are the keys a registration holds together, one per identifier
// of its customer, sorted (the order they are taken in):
//
//	<program>/domain:<canonical domain>/<product line>
//	<program>/duns:<nine digits>/<product line>      (when a D-U-N-S number is given)
//
// A registration conflicts with any live holder of any of them, so giving a
// D-U-N-S number never makes a customer another key: it adds one.
func ConflictKeys(program string, c v1alpha1.Customer, canonicalDomain, productLine string) []string {
	keys := []string{program + "/domain:" + canonicalDomain + "/" + productLine}
	if c.DUNS != "" {
		keys = append(keys, program+"/duns:"+c.DUNS+"/"+productLine)
	}
	slices.Sort(keys)
	return keys
}

// Identifiers are the program-independent index values of a registration's
// customer, for finding the registrations that may share a key or a name with
// it without listing the product line: its registrable domain (before the
// program's aliases), its D-U-N-S number and its normalised name, each with
// the product line.
func Identifiers(d *v1alpha1.DealRegistration) []string {
	pl := d.Spec.ProductLine
	var out []string
	if r := canonicalOf(d.Spec.Customer.Domain); r != "" {
		out = append(out, IdentifierDomain(r, pl))
	}
	if d.Spec.Customer.DUNS != "" {
		out = append(out, "duns:"+d.Spec.Customer.DUNS+"/"+pl)
	}
	if n := NormalName(d.Spec.Customer.Name); n != "" {
		out = append(out, "name:"+n+"/"+pl)
	}
	return out
}

// IdentifierDomain is the identifier of a registrable domain and product line.
func IdentifierDomain(registrable, productLine string) string {
	return "domain:" + registrable + "/" + productLine
}

// Candidates are the identifier values under which any registration that may
// share a key or a customer name with d (under program's rules) is indexed:
// d's own, and every registrable domain the program's aliases map to d's
// canonical domain (or to which d's domain is mapped).
func Candidates(d *v1alpha1.DealRegistration, program *v1alpha1.PartnerProgram) []string {
	out := Identifiers(d)
	r := rules(program)
	if r == nil || len(r.DomainAliases) == 0 {
		return out
	}
	canonical, err := CanonicalDomain(d.Spec.Customer.Domain, r)
	if err != nil {
		return out
	}
	seen := map[string]bool{}
	for _, v := range out {
		seen[v] = true
	}
	add := func(registrable string) {
		if v := IdentifierDomain(registrable, d.Spec.ProductLine); registrable != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	add(canonical)
	for _, a := range r.DomainAliases {
		if canonicalOf(a.Canonical) == canonical {
			add(canonicalOf(a.Domain))
		}
	}
	return out
}

// LockName is the name of the DealLock of a conflict key: a hash, so that any
// key gives a valid, fixed-length object name.
func LockName(conflictKey string) string {
	sum := sha256.Sum256([]byte(conflictKey))
	return "deal-" + hex.EncodeToString(sum[:])[:40]
}

// NormalName is a customer name as compared for suspected duplicates: in
// compatibility normal form (NFKC), lower case letters and digits only, without common company suffixes.
func NormalName(name string) string {
	// Compatibility forms (full-width letters, ligatures, Roman numerals) are
	// their plain letters, so no spelling of a name escapes the duplicate check.
	name = norm.NFKC.String(name)
	var b strings.Builder
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		switch w {
		case "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc", "gmbh", "ag", "sa", "sas", "bv", "plc", "the":
			continue
		}
		b.WriteString(w)
	}
	return b.String()
}
