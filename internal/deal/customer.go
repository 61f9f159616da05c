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

	"golang.org/x/net/publicsuffix"

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
// suffix alone, a free-mail domain.
func CanonicalDomain(raw string, rules *v1alpha1.DealRegistrationRules) (string, error) {
	host, err := hostOf(raw)
	if err != nil {
		return "", err
	}
	domain, err := registrableDomain(host)
	if err != nil {
		return "", err
	}
	if FreeMail(domain, rules) {
		return "", fmt.Errorf("%s is a free-mail domain and does not identify a customer; give the customer's own domain", domain)
	}
	if rules != nil {
		for _, a := range rules.DomainAliases {
			if canonicalOf(a.Domain) == domain {
				if c := canonicalOf(a.Canonical); c != "" {
					return c, nil
				}
			}
		}
	}
	return domain, nil
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

// FreeMail reports whether domain (registrable, lower case) is a free-mail
// domain, well known or listed by the program.
func FreeMail(domain string, rules *v1alpha1.DealRegistrationRules) bool {
	if slices.Contains(FreeMailDomains, domain) {
		return true
	}
	if rules == nil {
		return false
	}
	for _, d := range rules.FreeMailDomains {
		if strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".") == domain {
			return true
		}
	}
	return false
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
	if net.ParseIP(host) != nil {
		return "", fmt.Errorf("%q is an IP address, not a customer's domain", raw)
	}
	for _, r := range host {
		if !(r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return "", fmt.Errorf("%q is not a domain: it contains %q", raw, r)
		}
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

// ConflictKey is what at most one registration holds: the program, the
// customer (its D-U-N-S number when given, otherwise its canonical domain) and
// the product line.
func ConflictKey(program string, c v1alpha1.Customer, canonicalDomain, productLine string) string {
	customer := "domain:" + canonicalDomain
	if c.DUNS != "" {
		customer = "duns:" + c.DUNS
	}
	return program + "/" + customer + "/" + productLine
}

// LockName is the name of the DealLock of a conflict key: a hash, so that any
// key gives a valid, fixed-length object name.
func LockName(conflictKey string) string {
	sum := sha256.Sum256([]byte(conflictKey))
	return "deal-" + hex.EncodeToString(sum[:])[:40]
}

// NormalName is a customer name as compared for suspected duplicates: lower
// case letters and digits only, without common company suffixes.
func NormalName(name string) string {
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
