package app

import (
	"bytes"
	"flag"
	"net/http"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// parseCertFlags parses args with the manager's flags over Defaults, as main.go does.
func parseCertFlags(t *testing.T, args ...string) Options {
	t.Helper()
	o := Defaults
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return o
}

var recordsCertFlags = []string{
	"--records-server-cert-secret-name=partnergov-records-server-cert",
	"--records-server-service-name=partnergov-records-server",
	"--records-apiservice-name=v1alpha1.records.partnergov.io",
}

// certCase is a set of flags and what validation must say of them: nothing
// (want empty), or an error containing each of want.
type certCase struct {
	args []string
	want []string
}

func checkCertCases(t *testing.T, cases map[string]certCase) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := validateCertRotation(parseCertFlags(t, c.args...))
			switch {
			case len(c.want) == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case len(c.want) > 0 && err == nil:
				t.Fatalf("accepted; want an error naming %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestCertRotationNeedsTheSecretsNamespace(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	checkCertCases(t, map[string]certCase{
		"webhooks without a namespace":       {args: []string{"--cert-rotation"}, want: []string{"--cert-secret-namespace", "POD_NAMESPACE"}},
		"records server without a namespace": {args: recordsCertFlags, want: []string{"--cert-secret-namespace", "POD_NAMESPACE"}},
		"the flag gives it":                  {args: append([]string{"--cert-rotation", "--cert-secret-namespace=partnergov-system"}, recordsCertFlags...)},
		"no rotation needs none":             {},
	})
	t.Setenv("POD_NAMESPACE", "partnergov-system")
	checkCertCases(t, map[string]certCase{
		"the downward API gives it": {args: append([]string{"--cert-rotation"}, recordsCertFlags...)},
	})
}

func TestCertRotationNeedsTheSecretServiceAndBothWebhookConfigurations(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "partnergov-system")
	checkCertCases(t, map[string]certCase{
		"no Secret":                 {args: []string{"--cert-rotation", "--cert-secret-name="}, want: []string{"missing --cert-secret-name"}},
		"no Service":                {args: []string{"--cert-rotation", "--webhook-service-name="}, want: []string{"missing --webhook-service-name"}},
		"no mutating configuration": {args: []string{"--cert-rotation", "--mutating-webhook-configuration="}, want: []string{"missing --mutating-webhook-configuration"}},
		"no configurations": {args: []string{"--cert-rotation", "--mutating-webhook-configuration=", "--validating-webhook-configuration="},
			want: []string{"missing --mutating-webhook-configuration, --validating-webhook-configuration"}},
		"the defaults":           {args: []string{"--cert-rotation"}},
		"off, nothing is needed": {args: []string{"--cert-rotation=false", "--cert-secret-name="}},
	})
}

func TestRecordsServerCertFlagsGoTogether(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "partnergov-system")
	without := func(i int) []string {
		return append(append([]string{"--cert-rotation"}, recordsCertFlags[:i]...), recordsCertFlags[i+1:]...)
	}
	checkCertCases(t, map[string]certCase{
		"no Secret":     {args: without(0), want: []string{"missing --records-server-cert-secret-name"}},
		"no Service":    {args: without(1), want: []string{"missing --records-server-service-name"}},
		"no APIService": {args: without(2), want: []string{"missing --records-apiservice-name"}},
		"only the APIService": {args: []string{"--records-apiservice-name=v1alpha1.records.partnergov.io"},
			want: []string{"missing --records-server-cert-secret-name, --records-server-service-name"}},
		"all three":                      {args: append([]string{"--cert-rotation"}, recordsCertFlags...)},
		"with cert-manager for webhooks": {args: append([]string{"--cert-rotation=false"}, recordsCertFlags...)},
	})
	if o := parseCertFlags(t); o.RecordsServerCert.enabled() {
		t.Error("the records server's rotation is on without its flags (the crd store needs none)")
	}
	o := parseCertFlags(t, recordsCertFlags...)
	if got := o.RecordsServerCert.DNSName("partnergov-system"); got != "partnergov-records-server.partnergov-system.svc" {
		t.Errorf("the records server's certificate is issued for %s", got)
	}
}

func TestRecordsServerCertNeedsASecretOfItsOwn(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "partnergov-system")
	same := append([]string{"--cert-rotation", "--records-server-cert-secret-name=" + Defaults.CertRotation.SecretName}, recordsCertFlags[1:]...)
	checkCertCases(t, map[string]certCase{
		"the webhook Secret":            {args: same, want: []string{"--records-server-cert-secret-name", "--cert-secret-name", "of its own"}},
		"cert-manager's webhook Secret": {args: append([]string{"--cert-rotation=false"}, same[1:]...), want: []string{"of its own"}},
	})
}

// TestTheRecordsRotatorListsAndWatchesOnlyItsObjects: the records server
// rotator's list and watch of Secrets and APIServices carry a field selector
// for the one name it manages (RBAC's resourceNames then limit them); other
// requests pass unchanged.
func TestTheRecordsRotatorListsAndWatchesOnlyItsObjects(t *testing.T) {
	var got []string
	o := parseCertFlags(t, recordsCertFlags...)
	cfg := scopedConfig(&rest.Config{Host: "https://api.example"}, recordsRotatorObjects("partnergov-system", o.RecordsServerCert))
	rt := cfg.WrapTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	}))
	for _, u := range []string{
		"/api/v1/namespaces/partnergov-system/secrets?watch=true",
		"/apis/apiregistration.k8s.io/v1/apiservices",
		"/apis/apiregistration.k8s.io/v1/apiservices?fieldSelector=metadata.name%3Dother",
		"/api/v1/namespaces/other/secrets",
	} {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example"+u, nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"GET /api/v1/namespaces/partnergov-system/secrets?fieldSelector=metadata.name%3Dpartnergov-records-server-cert&watch=true",
		"GET /apis/apiregistration.k8s.io/v1/apiservices?fieldSelector=metadata.name%3Dv1alpha1.records.partnergov.io",
		"GET /apis/apiregistration.k8s.io/v1/apiservices?fieldSelector=metadata.name%3Dother",
		"GET /api/v1/namespaces/other/secrets?",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
