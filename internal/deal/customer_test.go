package deal

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestCanonicalDomain(t *testing.T) {
	rules := &v1alpha1.DealRegistrationRules{
		FreeMailDomains: []string{"corp-mail.example", "https://Mail.Corp-ISP.example."},
		DomainAliases: []v1alpha1.DomainAlias{{Domain: "acme.co.uk", Canonical: "acme.com"},
			{Domain: "acme-mail.de", Canonical: "www.gmail.com"}, {Domain: "acme-box.de", Canonical: "mail.corp-isp.example"}},
	}
	for name, tc := range map[string]struct {
		raw, want, wantErr string
	}{
		"a plain domain":                        {raw: "acme.com", want: "acme.com"},
		"upper case and spaces":                 {raw: "  ACME.com ", want: "acme.com"},
		"www is the same customer":              {raw: "www.acme.com", want: "acme.com"},
		"a URL with scheme, port and path":      {raw: "https://www.acme.com:8443/contact?x=1", want: "acme.com"},
		"a subdomain is the registrable domain": {raw: "eu.sales.acme.com", want: "acme.com"},
		"a trailing dot":                        {raw: "acme.com.", want: "acme.com"},
		"an e-mail address":                     {raw: "jane@acme.com", want: "acme.com"},
		"a multi-label public suffix":           {raw: "shop.acme.com.au", want: "acme.com.au"},
		"an alias maps to the canonical domain": {raw: "www.acme.co.uk", want: "acme.com"},
		"a well-known free-mail domain":         {raw: "jane@gmail.com", wantErr: "gmail.com is a free-mail domain"},
		"a free-mail subdomain spelling":        {raw: "https://mail.yahoo.com", wantErr: "yahoo.com is a free-mail domain"},
		"a free-mail domain the program lists":  {raw: "corp-mail.example", wantErr: "corp-mail.example is a free-mail domain"},
		"a public suffix alone":                 {raw: "co.uk", wantErr: "not a registrable domain"},
		// freeMailDomains entries match their subdomains too.
		"a subdomain of a free-mail domain the program lists": {raw: "jane@eu.mail.corp-isp.example", wantErr: "mail.corp-isp.example is a free-mail domain"},
		"the free-mail domain the program lists itself":       {raw: "mail.corp-isp.example", wantErr: "mail.corp-isp.example is a free-mail domain"},
		"its registrable domain is not free mail":             {raw: "corp-isp.example", want: "corp-isp.example"},
		// an alias may not point at a free-mail domain.
		"an alias pointing at a well-known free-mail domain": {raw: "acme-mail.de", wantErr: "domainAliases map acme-mail.de to gmail.com, a free-mail domain"},
		"an IP address":                  {raw: "10.0.0.1", wantErr: "IP address"},
		"something that is not a domain": {raw: "acme corp", wantErr: "not a domain"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := CanonicalDomain(tc.raw, rules)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CanonicalDomain(%q) = %q, %v; want an error containing %q", tc.raw, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CanonicalDomain(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			}
		})
	}
}

func TestAnAliasMayNotPointAtAFreeMailDomain(t *testing.T) {
	rules := &v1alpha1.DealRegistrationRules{
		FreeMailDomains: []string{"mail.corp-isp.example"},
		DomainAliases: []v1alpha1.DomainAlias{{Domain: "acme.co.uk", Canonical: "acme.com"},
			{Domain: "acme-mail.de", Canonical: "www.gmail.com"}, {Domain: "acme-box.de", Canonical: "eu.mail.corp-isp.example"}},
	}
	got := AliasRefusals(rules)
	if len(got) != 2 || got[0] != "" || !strings.Contains(got[1], "www.gmail.com is a free-mail domain (gmail.com)") ||
		!strings.Contains(got[2], "eu.mail.corp-isp.example is a free-mail domain (mail.corp-isp.example)") {
		t.Fatalf("AliasRefusals = %v; want entries 1 and 2 refused", got)
	}
}

func TestConflictKeyAndLockName(t *testing.T) {
	c := v1alpha1.Customer{Name: "Acme", Domain: "acme.com"}
	if got := ConflictKey("global", c, "acme.com", "sync"); got != "global/domain:acme.com/sync" {
		t.Errorf("key by domain = %q", got)
	}
	if got := ConflictKeys("global", c, "acme.com", "sync"); !slices.Equal(got, []string{"global/domain:acme.com/sync"}) {
		t.Errorf("keys by domain only = %q", got)
	}
	c.DUNS = "123456789"
	if got := ConflictKeys("global", c, "acme.com", "sync"); !slices.Equal(got, []string{"global/domain:acme.com/sync", "global/duns:123456789/sync"}) {
		t.Errorf("a D-U-N-S number adds a key, sorted after the domain's: %q", got)
	}
	if got := ConflictKey("global", c, "acme.com", "sync"); got != "global/domain:acme.com/sync" {
		t.Errorf("status.conflictKey stays the domain's key: %q", got)
	}
	// The documented example (docs/deals.md): CRM integrations compute lock names this way.
	if got := LockName("global/domain:globex.com/sync"); got != "deal-"+sha("global/domain:globex.com/sync")[:40] {
		t.Errorf("LockName = %q", got)
	}
	a, b := LockName("global/domain:acme.com/sync"), LockName("global/domain:acme.com/vault")
	if a == b || a != LockName("global/domain:acme.com/sync") || len(a) != len("deal-")+40 {
		t.Errorf("lock names must be fixed per key and differ between keys: %q %q", a, b)
	}
}

func TestNormalName(t *testing.T) {
	for _, pair := range [][2]string{{"Acme Corp.", "ACME Corporation"}, {"The Acme Company, Ltd", "acme"}, {"Acme GmbH", "ACME"}} {
		if NormalName(pair[0]) != NormalName(pair[1]) {
			t.Errorf("%q and %q should compare equal: %q vs %q", pair[0], pair[1], NormalName(pair[0]), NormalName(pair[1]))
		}
	}
	// One customer name whatever its spelling: full-width letters, ligatures and
	// other compatibility forms compare as their plain letters, so a name typed
	// in full width is still suspected as a duplicate.
	for _, pair := range [][2]string{{"ＡＣＭＥ Ｃｏｒｐ", "Acme Corp"}, {"Acme Oﬃce", "acme office"}, {"Acme Ⅱ GmbH", "acme ii"}} {
		if NormalName(pair[0]) != NormalName(pair[1]) {
			t.Errorf("%q and %q should compare equal: %q vs %q", pair[0], pair[1], NormalName(pair[0]), NormalName(pair[1]))
		}
	}
	if NormalName("Acme") == NormalName("Acme Labs") {
		t.Error("Acme and Acme Labs compare equal")
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestCandidatesFindEveryRegistrationThatMayShareAKey(t *testing.T) {
	p := program(&v1alpha1.DealRegistrationRules{DomainAliases: []v1alpha1.DomainAlias{
		{Domain: "acme.co.uk", Canonical: "acme.com"}, {Domain: "acme.de", Canonical: "acme.com"}, {Domain: "other.com", Canonical: "other.org"}}})
	d := registration("d1", now, func(d *v1alpha1.DealRegistration) {
		d.Spec.Customer = v1alpha1.Customer{Name: "Acme Corp", Domain: "https://www.acme.co.uk/", DUNS: "123456789"}
	})
	got := Candidates(d, p)
	slices.Sort(got)
	want := []string{"domain:acme.co.uk/sync", "domain:acme.com/sync", "domain:acme.de/sync", "duns:123456789/sync", "name:acme/sync"}
	if !slices.Equal(got, want) {
		t.Fatalf("Candidates = %q; want %q", got, want)
	}
	// Every registration whose keys share one with d's is indexed under a candidate.
	_, keys, _ := Keys(d, p)
	for _, o := range []v1alpha1.Customer{{Name: "x", Domain: "acme.de"}, {Name: "x", Domain: "acme.com"}, {Name: "x", Domain: "elsewhere.com", DUNS: "123456789"}} {
		od := registration("o", now, func(r *v1alpha1.DealRegistration) { r.Spec.Customer = o })
		_, ok, _ := Keys(od, p)
		if !sharesKey(ok, keys) || !slices.ContainsFunc(Identifiers(od), func(v string) bool { return slices.Contains(want, v) }) {
			t.Errorf("%+v shares a key with d but is not found by its candidates", o)
		}
	}
}

// TestOneCustomerOneKeyWhateverTheScriptOfItsDomain: a domain typed in
// full-width letters or as an internationalised name is the same customer as
// its ASCII (punycode) spelling, so it gives the same conflict key, and a
// free-mail domain in full-width letters is still free mail (issue 26 items
// 2 and 15).
func TestOneCustomerOneKeyWhateverTheScriptOfItsDomain(t *testing.T) {
	rules := &v1alpha1.DealRegistrationRules{FreeMailDomains: []string{"bücher-mail.de"}}
	for name, tc := range map[string]struct {
		raw, want, wantErr string
	}{
		"full-width letters are the ASCII domain":       {raw: "ＡＣＭＥ.com", want: "acme.com"},
		"full-width lower case is the ASCII domain":     {raw: "ａｃｍｅ.com", want: "acme.com"},
		"an ideographic full stop is a dot":             {raw: "acme。com", want: "acme.com"},
		"a Unicode domain is its punycode":              {raw: "bücher.de", want: "xn--bcher-kva.de"},
		"an upper-case Unicode domain is its punycode":  {raw: "https://www.BÜCHER.de/x", want: "xn--bcher-kva.de"},
		"a punycode domain stays itself":                {raw: "XN--BCHER-KVA.de", want: "xn--bcher-kva.de"},
		"a full-width free-mail domain is free mail":    {raw: "ｇｍａｉｌ.com", wantErr: "gmail.com is a free-mail domain"},
		"a punycode spelling of a listed free-mail one": {raw: "xn--bcher-mail-9db.de", wantErr: "xn--bcher-mail-9db.de is a free-mail domain"},
		"invalid punycode is not a domain":              {raw: "xn--a.com", wantErr: "not a domain"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := CanonicalDomain(tc.raw, rules)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CanonicalDomain(%q) = %q, %v; want an error containing %q", tc.raw, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CanonicalDomain(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			}
		})
	}
	// Two registrations of one customer, one typed in full width: one key.
	a := ConflictKeys("p", v1alpha1.Customer{}, mustCanonical(t, "acme.com"), "sync")
	b := ConflictKeys("p", v1alpha1.Customer{}, mustCanonical(t, "ＡＣＭＥ.ＣＯＭ"), "sync")
	if !slices.Equal(a, b) {
		t.Fatalf("keys %v and %v: one customer has two keys", a, b)
	}
	// An identifier is indexed under the same spelling.
	d := &v1alpha1.DealRegistration{Spec: v1alpha1.DealRegistrationSpec{Customer: v1alpha1.Customer{Name: "B", Domain: "bücher.de"}, ProductLine: "sync"}}
	if ids := Identifiers(d); !slices.Contains(ids, IdentifierDomain("xn--bcher-kva.de", "sync")) {
		t.Fatalf("Identifiers = %v; want the punycode domain", ids)
	}
}

func mustCanonical(t *testing.T, raw string) string {
	t.Helper()
	c, err := CanonicalDomain(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
