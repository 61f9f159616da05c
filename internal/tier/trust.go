package tier

import (
	"slices"
	"strings"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Prefixes of the catalog rules recorded in EvidenceEntry.TrustedVia.
const (
	viaUser           = "user:"
	viaGroup          = "group:"
	viaServiceAccount = "serviceaccount:"

	// serviceAccountUserPrefix starts the user name the API server gives a service
	// account: "system:serviceaccount:<namespace>:<name>".
	serviceAccountUserPrefix = "system:serviceaccount:"
)

// Trusted reports whether an authenticated identity may report the metric def, and
// which catalog rule admits it: "user:<name>", "serviceaccount:<namespace>/<name>" or
// "group:<name>". Rules are tried in that order (the most specific first) and groups
// in catalog order, so the answer does not depend on the order of groups.
func Trusted(def v1alpha1.MetricDefinition, username string, groups []string) (via string, ok bool) {
	return Matches(def.TrustedReporters, username, groups)
}

// Matches reports whether an authenticated identity is one of ids, and by which
// rule, as Trusted does for a metric's reporters.
func Matches(reporters v1alpha1.Identities, username string, groups []string) (via string, ok bool) {
	if username != "" && slices.Contains(reporters.Users, username) {
		return viaUser + username, true
	}
	if ns, name, isSA := serviceAccount(username); isSA {
		for _, sa := range reporters.ServiceAccounts {
			if sa.Namespace == ns && sa.Name == name {
				return viaServiceAccount + ns + "/" + name, true
			}
		}
	}
	for _, g := range reporters.Groups {
		if slices.Contains(groups, g) {
			return viaGroup + g, true
		}
	}
	return "", false
}

// StillTrusted reports whether the rule via, as recorded by Trusted when the evidence
// was admitted, is still part of the metric's trusted reporters. An empty or
// malformed rule is never trusted.
func StillTrusted(def v1alpha1.MetricDefinition, via string) bool {
	reporters := def.TrustedReporters
	if user, ok := strings.CutPrefix(via, viaUser); ok {
		return user != "" && slices.Contains(reporters.Users, user)
	}
	if group, ok := strings.CutPrefix(via, viaGroup); ok {
		return group != "" && slices.Contains(reporters.Groups, group)
	}
	if ref, ok := strings.CutPrefix(via, viaServiceAccount); ok {
		ns, name, found := strings.Cut(ref, "/")
		if !found || ns == "" || name == "" {
			return false
		}
		return slices.Contains(reporters.ServiceAccounts, v1alpha1.ServiceAccountReference{Namespace: ns, Name: name})
	}
	return false
}

// serviceAccount splits a service account user name into namespace and name.
func serviceAccount(username string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(username, serviceAccountUserPrefix)
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	if !ok || namespace == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return namespace, name, true
}

// Groups the API server gives every ServiceAccount, whatever its namespace.
var everyServiceAccount = []string{"system:serviceaccounts", "system:authenticated"}

// SelfReporting lists the Outcome metrics of p that a partner's own integration
// identity could report, each with the catalog rule that would admit it: a partner
// must never self-report the outcomes that earn its tier. With partner empty it
// checks only the rules that admit every ServiceAccount (system:serviceaccounts,
// system:authenticated), which would admit any partner's integration.
func SelfReporting(p *v1alpha1.PartnerProgram, namespace, partner string) []string {
	user, groups := "", everyServiceAccount
	if partner != "" {
		user = serviceAccountUserPrefix + namespace + ":" + v1alpha1.IntegrationName(partner)
		groups = append([]string{"system:serviceaccounts:" + namespace}, everyServiceAccount...)
	}
	var out []string
	for _, def := range p.Spec.Metrics {
		if def.Class != v1alpha1.MetricClassOutcome {
			continue
		}
		if via, ok := Trusted(def, user, groups); ok {
			out = append(out, "Outcome metric "+def.Name+" trusts "+via)
		}
	}
	return out
}

// SelfReportingSuspects narrows down which partners' integration identities the
// Outcome metrics of p could trust, so that a check need not look at every
// partner of the program: the ServiceAccounts the catalog names (as a
// reference or by user name), which may be a partner's "<partner>-integration",
// and the namespaces whose every ServiceAccount it trusts (the group
// "system:serviceaccounts:<namespace>"), where any partner would be. Both come
// sorted and without duplicates. The rules that trust every ServiceAccount
// whatever its namespace are SelfReporting's to find, with no partner at all.
func SelfReportingSuspects(p *v1alpha1.PartnerProgram) (accounts []v1alpha1.ServiceAccountReference, namespaces []string) {
	for _, def := range p.Spec.Metrics {
		if def.Class != v1alpha1.MetricClassOutcome {
			continue
		}
		r := def.TrustedReporters
		accounts = append(accounts, r.ServiceAccounts...)
		for _, u := range r.Users {
			if ns, name, ok := serviceAccount(u); ok {
				accounts = append(accounts, v1alpha1.ServiceAccountReference{Namespace: ns, Name: name})
			}
		}
		for _, g := range r.Groups {
			if ns, ok := strings.CutPrefix(g, "system:serviceaccounts:"); ok && ns != "" {
				namespaces = append(namespaces, ns)
			}
		}
	}
	slices.SortFunc(accounts, func(a, b v1alpha1.ServiceAccountReference) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	slices.Sort(namespaces)
	return slices.Compact(accounts), slices.Compact(namespaces)
}
