package app

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// apiWrites counts the manager's mutating requests to the API server by resource
// (with its subresource) and verb, so write amplification is visible in
// production and measurable by `make bench`: a settled program should show none.
var apiWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "partnergov_api_writes_total",
	Help: "Mutating requests the manager sent to the API server, by resource (resource/subresource) and verb.",
}, []string{"resource", "verb"})

func init() { metrics.Registry.MustRegister(apiWrites) }

// writeVerbs maps HTTP methods to the API verbs they carry.
var writeVerbs = map[string]string{
	http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete",
}

// countWrites wraps a transport so that every mutating request is counted,
// whichever client (cache, status writer, events, leader election) sends it.
func countWrites(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if verb, ok := writeVerbs[r.Method]; ok {
			apiWrites.WithLabelValues(resourceOf(r.URL.Path), verb).Inc()
		}
		return rt.RoundTrip(r)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// resourceOf extracts "resource" or "resource/subresource" from an API path:
// /api/v1/namespaces/ns/serviceaccounts, /apis/g/v/namespaces/ns/partners/p/status,
// /apis/g/v/partnertiers/t/status. Other paths are "other".
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return "other"
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		if len(parts) == 2 {
			return "namespaces"
		}
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return "other"
	case 1, 2:
		return parts[0]
	default:
		return parts[0] + "/" + parts[2]
	}
}
