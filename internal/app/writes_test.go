package app

import "testing"

func TestResourceOf(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces/p/serviceaccounts":                                      "serviceaccounts",
		"/api/v1/namespaces/p/serviceaccounts/x":                                    "serviceaccounts",
		"/apis/governance.partnergov.io/v1alpha1/namespaces/p/partners/acme/status": "partners/status",
		"/apis/governance.partnergov.io/v1alpha1/partnertiers/gold/status":          "partnertiers/status",
		"/apis/governance.partnergov.io/v1alpha1/partnertiers/gold":                 "partnertiers",
		"/apis/events.k8s.io/v1/namespaces/p/events":                                "events",
		"/apis/coordination.k8s.io/v1/namespaces/ns/leases/id":                      "leases",
		"/api/v1/namespaces/p":                                                      "namespaces",
		"/apis/authorization.k8s.io/v1/subjectaccessreviews":                        "subjectaccessreviews",
		"/healthz": "other",
	} {
		if got := resourceOf(path); got != want {
			t.Errorf("resourceOf(%q) = %q, want %q", path, got, want)
		}
	}
}
