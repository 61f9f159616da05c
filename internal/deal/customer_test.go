package deal

import (
	"strings"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestCanonicalDomain(t *testing.T) {
	rules := &v1alpha1.DealRegistrationRules{
		FreeMailDomains: []string{"corp-mail.example"},
		DomainAliases:   []v1alpha1.DomainAlias{{Domain: "acme.co.uk", Canonical: "acme.com"}},
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
		"an IP address":                         {raw: "10.0.0.1", wantErr: "IP address"},
		"something that is not a domain":        {raw: "acme corp", wantErr: "not a domain"},
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

func TestConflictKeyAndLockName(t *testing.T) {
	c := v1alpha1.Customer{Name: "Acme", Domain: "acme.com"}
	if got := ConflictKey("global", c, "acme.com", "sync"); got != "global/domain:acme.com/sync" {
		t.Errorf("key by domain = %q", got)
	}
	c.DUNS = "123456789"
	if got := ConflictKey("global", c, "acme.com", "sync"); got != "global/duns:123456789/sync" {
		t.Errorf("a D-U-N-S number is the customer when given: %q", got)
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
	if NormalName("Acme") == NormalName("Acme Labs") {
		t.Error("Acme and Acme Labs compare equal")
	}
}
