package tier

import (
	"slices"
	"strings"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// revenueDef trusts a user, two groups and a service account.
func revenueDef() v1alpha1.MetricDefinition {
	return metric(revenue, v1alpha1.MetricClassOutcome, 90*day, v1alpha1.Identities{
		Users:           []string{"crm-sync@example.com", "system:serviceaccount:legacy:bot"},
		Groups:          []string{"partnergov:crm", "partnergov:finance"},
		ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "crm", Name: "sync"}},
	})
}

func TestTrusted(t *testing.T) {
	tests := map[string]struct {
		username string
		groups   []string
		wantVia  string
		wantOK   bool
	}{
		"a listed user":                             {username: "crm-sync@example.com", wantVia: "user:crm-sync@example.com", wantOK: true},
		"an unlisted user in no group":              {username: "intern@example.com", groups: []string{"staff"}},
		"a member of a trusted group":               {username: "alice@example.com", groups: []string{"staff", "partnergov:finance"}, wantVia: "group:partnergov:finance", wantOK: true},
		"trusted groups are tried in catalog order": {username: "bob@example.com", groups: []string{"partnergov:finance", "partnergov:crm"}, wantVia: "group:partnergov:crm", wantOK: true},
		"a listed service account":                  {username: "system:serviceaccount:crm:sync", groups: []string{"system:serviceaccounts"}, wantVia: "serviceaccount:crm/sync", wantOK: true},
		"a service account in another namespace":    {username: "system:serviceaccount:other:sync"},
		"a service account listed as a user":        {username: "system:serviceaccount:legacy:bot", wantVia: "user:system:serviceaccount:legacy:bot", wantOK: true},
		"a user rule wins over a group rule":        {username: "crm-sync@example.com", groups: []string{"partnergov:crm"}, wantVia: "user:crm-sync@example.com", wantOK: true},
		"a service account rule wins over a group":  {username: "system:serviceaccount:crm:sync", groups: []string{"partnergov:crm"}, wantVia: "serviceaccount:crm/sync", wantOK: true},
		"a malformed service account name":          {username: "system:serviceaccount:crm"},
		"the slash form is not a service account":   {username: "system:serviceaccount:crm/sync"},
		"nobody": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			via, ok := Trusted(revenueDef(), tc.username, tc.groups)
			if via != tc.wantVia || ok != tc.wantOK {
				t.Fatalf("Trusted = %q, %v; want %q, %v", via, ok, tc.wantVia, tc.wantOK)
			}
			if ok && !StillTrusted(revenueDef(), via) {
				t.Errorf("StillTrusted(%q) = false for a rule Trusted just returned", via)
			}
		})
	}
}

func TestStillTrusted(t *testing.T) {
	tests := map[string]struct {
		via  string
		want bool
	}{
		"a listed user":                         {"user:crm-sync@example.com", true},
		"a user since removed":                  {"user:old-crm@example.com", false},
		"a listed group with a colon":           {"group:partnergov:crm", true},
		"a group since removed":                 {"group:partnergov:marketing", false},
		"a listed service account":              {"serviceaccount:crm/sync", true},
		"a service account since removed":       {"serviceaccount:crm/old", false},
		"a service account without a name":      {"serviceaccount:crm", false},
		"a service account with an empty name":  {"serviceaccount:crm/", false},
		"an empty user":                         {"user:", false},
		"an empty group":                        {"group:", false},
		"no rule recorded":                      {"", false},
		"an unknown kind of rule":               {"token:crm-sync@example.com", false},
		"a rule kind is case sensitive":         {"User:crm-sync@example.com", false},
		"a user name is not matched as a group": {"group:crm-sync@example.com", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := StillTrusted(revenueDef(), tc.via); got != tc.want {
				t.Errorf("StillTrusted(%q) = %v, want %v", tc.via, got, tc.want)
			}
		})
	}
}

func TestValidateTier(t *testing.T) {
	tests := map[string]struct {
		tier       v1alpha1.PartnerTier
		program    *v1alpha1.PartnerProgram
		wantReason string
		wantOK     bool
		wantInMsg  string
	}{
		"a tier requiring an Outcome metric": {
			tier: gold(), program: program(), wantReason: v1alpha1.ReasonCatalogResolved, wantOK: true,
		},
		"an entry tier without requirements": {
			tier: registered(), program: program(), wantReason: v1alpha1.ReasonCatalogResolved, wantOK: true,
		},
		"an entry tier on enablement only": {
			tier:    tierNamed("starter", 0, 1, req(engineers, v1alpha1.OperatorGreaterThanOrEqual, "1")),
			program: program(), wantReason: v1alpha1.ReasonCatalogResolved, wantOK: true,
		},
		"a tier above rank 0 on enablement and risk only": {
			tier: tierNamed("academy", 1, 1,
				req(engineers, v1alpha1.OperatorGreaterThanOrEqual, "10"), req(escalate, v1alpha1.OperatorLessThan, "1")),
			program: program(), wantReason: v1alpha1.ReasonNoOutcomeRequirement, wantInMsg: "rank 1",
		},
		"a tier above rank 0 without requirements": {
			tier: tierNamed("free", 3, 1), program: program(), wantReason: v1alpha1.ReasonNoOutcomeRequirement,
		},
		"a requirement on a metric outside the catalog": {
			tier: tierNamed("elite", 4, 1,
				req("nps", v1alpha1.OperatorGreaterThan, "50"), req(revenue, v1alpha1.OperatorGreaterThan, "1"),
				req("csat", v1alpha1.OperatorGreaterThan, "4"), req("nps", v1alpha1.OperatorLessThan, "99")),
			program: program(), wantReason: v1alpha1.ReasonUnknownMetric, wantInMsg: `program "partners": csat, nps`,
		},
		"unknown metrics are reported before a missing Outcome": {
			tier:    tierNamed("vague", 2, 1, req("nps", v1alpha1.OperatorGreaterThan, "50")),
			program: program(), wantReason: v1alpha1.ReasonUnknownMetric,
		},
		"an Outcome requirement of at least zero is not an outcome": {
			tier:    tierNamed("zero", 1, 1, req(revenue, v1alpha1.OperatorGreaterThanOrEqual, "0"), req(engineers, v1alpha1.OperatorGreaterThanOrEqual, "5")),
			program: program(), wantReason: v1alpha1.ReasonNoOutcomeRequirement, wantInMsg: "met by a value of zero",
		},
		"an Outcome requirement with only an upper bound is not an outcome": {
			tier:    tierNamed("capped", 1, 1, req(revenue, v1alpha1.OperatorLessThanOrEqual, "1000000")),
			program: program(), wantReason: v1alpha1.ReasonNoOutcomeRequirement, wantInMsg: "met by a value of zero",
		},
		"an Outcome requirement greater than zero is an outcome": {
			tier:    tierNamed("some", 1, 1, req(revenue, v1alpha1.OperatorGreaterThan, "0"), req(revenue, v1alpha1.OperatorLessThanOrEqual, "1000000")),
			program: program(), wantReason: v1alpha1.ReasonCatalogResolved, wantOK: true,
		},
		"a missing program": {
			tier: gold(), program: nil, wantReason: v1alpha1.ReasonProgramNotFound, wantInMsg: `"partners" does not exist`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reason, msg, ok := ValidateTier(tc.tier, tc.program)
			if reason != tc.wantReason || ok != tc.wantOK {
				t.Errorf("ValidateTier = %q, %v (%q); want %q, %v", reason, ok, msg, tc.wantReason, tc.wantOK)
			}
			if msg == "" || !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("message %q, want it to contain %q", msg, tc.wantInMsg)
			}
		})
	}
}

func TestSelfReporting(t *testing.T) {
	outcome := func(who v1alpha1.Identities) *v1alpha1.PartnerProgram {
		p := program()
		p.Spec.Metrics = append(p.Spec.Metrics, metric("bookings", v1alpha1.MetricClassOutcome, 90*day, who))
		return p
	}
	enablement := program()
	enablement.Spec.Metrics = append(enablement.Spec.Metrics, metric("courses", v1alpha1.MetricClassEnablement, 90*day,
		v1alpha1.Identities{Groups: []string{"system:serviceaccounts:partners"}}))
	tests := map[string]struct {
		program   *v1alpha1.PartnerProgram
		partner   string
		wantRules []string
	}{
		"the CRM's own identities are not the partner's": {program: program(), partner: "acme"},
		"an Outcome metric trusting the partners' namespace group": {
			program: outcome(v1alpha1.Identities{Groups: []string{"system:serviceaccounts:partners"}}), partner: "acme",
			wantRules: []string{"Outcome metric bookings trusts group:system:serviceaccounts:partners"},
		},
		"an Outcome metric trusting the partner's integration account": {
			program: outcome(v1alpha1.Identities{ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "partners", Name: "acme-integration"}}}), partner: "acme",
			wantRules: []string{"Outcome metric bookings trusts serviceaccount:partners/acme-integration"},
		},
		"an Outcome metric trusting every ServiceAccount, checked without a partner": {
			program:   outcome(v1alpha1.Identities{Groups: []string{"system:serviceaccounts"}}),
			wantRules: []string{"Outcome metric bookings trusts group:system:serviceaccounts"},
		},
		"an Enablement metric may trust the partners' namespace": {program: enablement, partner: "acme"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := SelfReporting(tc.program, "partners", tc.partner); !slices.Equal(got, tc.wantRules) {
				t.Errorf("SelfReporting = %q, want %q", got, tc.wantRules)
			}
		})
	}
}

func TestSelfReportingSuspectsAreEveryAccountAndNamespaceAnOutcomeTrusts(t *testing.T) {
	p := program()
	p.Spec.Metrics = append(p.Spec.Metrics,
		metric("bookings", v1alpha1.MetricClassOutcome, 90*day, v1alpha1.Identities{
			Users:           []string{"system:serviceaccount:partners:acme-integration", "alice@example.com", "system:serviceaccount:broken"},
			ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "emea", Name: "nimbus-integration"}, {Namespace: "partners", Name: "acme-integration"}},
			Groups:          []string{"system:serviceaccounts:emea", "partnergov:crm", "system:serviceaccounts"},
		}),
		metric("courses", v1alpha1.MetricClassEnablement, 90*day, v1alpha1.Identities{
			ServiceAccounts: []v1alpha1.ServiceAccountReference{{Namespace: "apac", Name: "orbit-integration"}},
			Groups:          []string{"system:serviceaccounts:apac"},
		}))
	accounts, namespaces := SelfReportingSuspects(p)
	wantAccounts := []v1alpha1.ServiceAccountReference{{Namespace: "crm", Name: "sync"}, {Namespace: "emea", Name: "nimbus-integration"}, {Namespace: "partners", Name: "acme-integration"}}
	if !slices.Equal(accounts, wantAccounts) {
		t.Errorf("accounts = %v, want %v (Outcome metrics only, users and references, once each)", accounts, wantAccounts)
	}
	if want := []string{"emea"}; !slices.Equal(namespaces, want) {
		t.Errorf("namespaces = %v, want %v (Outcome metrics only; the group of every ServiceAccount is SelfReporting's)", namespaces, want)
	}
}

func TestProgramReadiness(t *testing.T) {
	broken := tierNamed("broken", 5, 1, req("nps", v1alpha1.OperatorGreaterThan, "1"))
	other := gold()
	other.Spec.Program = "other"
	tests := map[string]struct {
		tiers      []v1alpha1.PartnerTier
		wantOK     bool
		wantReason string
		wantInMsg  string
	}{
		"a program whose tiers all fit its catalog": {tiers: ladderTiers(), wantOK: true, wantReason: v1alpha1.ReasonReconciled, wantInMsg: "4 tiers"},
		"a program without tiers":                   {tiers: []v1alpha1.PartnerTier{other}, wantReason: v1alpha1.ReasonNoTiers, wantInMsg: "can hold no tier"},
		"a program with a tier that does not fit":   {tiers: append(ladderTiers(), broken), wantReason: v1alpha1.ReasonTiersNotResolved, wantInMsg: "1 of the program's 5 tiers"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, reason, msg := ProgramReadiness(program(), tc.tiers)
			if ok != tc.wantOK || reason != tc.wantReason || !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("ProgramReadiness = %v, %s, %q; want %v, %s, containing %q", ok, reason, msg, tc.wantOK, tc.wantReason, tc.wantInMsg)
			}
		})
	}
}
