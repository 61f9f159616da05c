package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// CertRotation configures the webhook serving certificate that the manager
// generates and renews itself with github.com/open-policy-agent/cert-controller:
// a CA and a serving certificate for <ServiceName>.<namespace>.svc kept in one
// Secret, and the CA injected as caBundle into both webhook configurations.
// The Secret must exist (the install ships it empty) and be mounted at the
// webhook certificate directory; the kubelet refreshes the mounted files and
// the webhook server reloads them, so renewal needs no restart.
type CertRotation struct {
	// Enabled turns rotation on. Off, the certificate comes from WebhookCertDir
	// as it is (cert-manager, or envtest in `make run` and the tests).
	Enabled bool
	// SecretName and SecretNamespace name the Secret that holds the CA and the
	// serving certificate. An empty namespace is the POD_NAMESPACE environment
	// variable (the downward API in the Deployment).
	SecretName      string
	SecretNamespace string
	// ServiceName is the webhook Service; the certificate is valid for
	// <ServiceName>.<SecretNamespace>.svc (and .svc.cluster.local).
	ServiceName string
	// MutatingWebhookConfiguration and ValidatingWebhookConfiguration receive the caBundle.
	MutatingWebhookConfiguration   string
	ValidatingWebhookConfiguration string
}

// DNSName is the name the serving certificate is issued for, which is the
// server name the API server verifies when it calls the webhook Service.
func (c CertRotation) DNSName() string {
	return c.ServiceName + "." + c.namespace() + ".svc"
}

func (c CertRotation) namespace() string {
	if c.SecretNamespace != "" {
		return c.SecretNamespace
	}
	return os.Getenv("POD_NAMESPACE")
}

// metricsOptions serves metrics in plain HTTP, or, with MetricsSecure, over
// HTTPS to callers that the API server authenticates (TokenReview) and
// authorizes (SubjectAccessReview for GET /metrics), as kubebuilder scaffolds.
func metricsOptions(o Options) metricsserver.Options {
	m := metricsserver.Options{BindAddress: o.MetricsBindAddress}
	if o.MetricsSecure {
		m.SecureServing = true
		m.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return m
}

// RecordsServerCert configures the serving certificate of partnergov's
// records server (cmd/records-server, the postgres records store), which the
// manager generates and renews as it does the webhooks': a CA and a serving
// certificate for <ServiceName>.<namespace>.svc in SecretName (in the
// namespace of the webhook Secret), the CA injected as caBundle into the
// APIService that registers the records server. The records server mounts
// the Secret's tls.crt and tls.key (--tls-cert-file, --tls-private-key-file)
// and reloads them when they change. All three names empty: no rotation (the
// crd records store, or cert-manager issues the certificate).
type RecordsServerCert struct {
	SecretName     string
	ServiceName    string
	APIServiceName string
}

// enabled reports whether any of the names is set (validate then wants all three).
func (r RecordsServerCert) enabled() bool {
	return r.SecretName != "" || r.ServiceName != "" || r.APIServiceName != ""
}

// DNSName is the name the records server's certificate is issued for, which
// is the server name the aggregator verifies when it calls the Service.
func (r RecordsServerCert) DNSName(namespace string) string {
	return r.ServiceName + "." + namespace + ".svc"
}

// validateCertRotation checks the certificate options together, naming the
// flags at fault: the webhook rotation needs its Secret, Service and both
// webhook configurations; the records server's needs its Secret, Service and
// APIService, all three or none, and a Secret of its own (two rotators
// writing one Secret would replace each other's certificate); both need the
// namespace.
func validateCertRotation(o Options) error {
	c, r := o.CertRotation, o.RecordsServerCert
	var errs []error
	if (c.Enabled || r.enabled()) && c.namespace() == "" {
		errs = append(errs, errors.New("cert rotation needs the Secret's namespace: set --cert-secret-namespace or POD_NAMESPACE"))
	}
	if c.Enabled {
		if m := missingFlags(map[string]string{
			"--cert-secret-name":                 c.SecretName,
			"--webhook-service-name":             c.ServiceName,
			"--mutating-webhook-configuration":   c.MutatingWebhookConfiguration,
			"--validating-webhook-configuration": c.ValidatingWebhookConfiguration,
		}); m != "" {
			errs = append(errs, errors.New("cert rotation needs the Secret, Service and both webhook configuration names; missing "+m))
		}
	}
	if r.enabled() {
		if m := missingFlags(map[string]string{
			"--records-server-cert-secret-name": r.SecretName,
			"--records-server-service-name":     r.ServiceName,
			"--records-apiservice-name":         r.APIServiceName,
		}); m != "" {
			errs = append(errs, errors.New("the records server's cert rotation needs --records-server-cert-secret-name, "+
				"--records-server-service-name and --records-apiservice-name together; missing "+m))
		}
		if r.SecretName != "" && r.SecretName == c.SecretName {
			errs = append(errs, fmt.Errorf("--records-server-cert-secret-name %q is the webhook certificate's Secret (--cert-secret-name): "+
				"each certificate needs a Secret of its own", r.SecretName))
		}
	}
	return errors.Join(errs...)
}

// missingFlags lists, sorted, the flags whose value is empty.
func missingFlags(values map[string]string) string {
	var missing []string
	for flag, v := range values {
		if v == "" {
			missing = append(missing, flag)
		}
	}
	slices.Sort(missing)
	return strings.Join(missing, ", ")
}

// webhookCertDir is the directory the webhook server reads its certificate from.
func webhookCertDir(o Options) string {
	if o.WebhookCertDir == "" { // the webhook server's own default
		return filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	return o.WebhookCertDir
}

// webhookServer returns the webhook server for the manager's options, and a
// function to call once the manager exists. With rotation on, the server only
// starts once the rotator has written a certificate, the kubelet has mounted
// it and the caBundle is injected; until then /readyz fails, so the pod gets
// no webhook traffic before it can answer it. With RecordsServerCert set, the
// function also adds the records server's rotator.
func webhookServer(o Options) (webhook.Server, func(ctrl.Manager) error, error) {
	srv := webhook.NewServer(webhook.Options{Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.WebhookCertDir})
	if err := validateCertRotation(o); err != nil {
		return nil, nil, err
	}
	c := o.CertRotation
	ns := c.namespace()
	certDir := webhookCertDir(o)
	addRecords := func(mgr ctrl.Manager) error {
		if !o.RecordsServerCert.enabled() {
			return nil
		}
		return addRecordsServerRotator(mgr, ns, certDir, o.RecordsServerCert, rotatorName(o, "records-server-cert-rotator"))
	}
	if !c.Enabled {
		return srv, addRecords, nil
	}
	ready := make(chan struct{})
	add := func(mgr ctrl.Manager) error {
		names := map[string]string{
			"/api/v1/namespaces/" + ns + "/secrets":                                 c.SecretName,
			"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations":   c.MutatingWebhookConfiguration,
			"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations": c.ValidatingWebhookConfiguration,
		}
		err := rotator.AddRotator(scopedManager{Manager: mgr, cfg: scopedConfig(mgr.GetConfig(), names)}, &rotator.CertRotator{
			SecretKey:      types.NamespacedName{Namespace: ns, Name: c.SecretName},
			CertDir:        certDir,
			CAName:         "partnergov-ca",
			CAOrganization: "partnergov",
			DNSName:        c.DNSName(),
			ExtraDNSNames:  []string{c.DNSName() + ".cluster.local"},
			IsReady:        ready,
			Webhooks: []rotator.WebhookInfo{
				{Name: c.MutatingWebhookConfiguration, Type: rotator.Mutating},
				{Name: c.ValidatingWebhookConfiguration, Type: rotator.Validating},
			},
			FieldOwner: "partnergov-cert-rotation",
			// Every replica serves webhooks, so every replica must see the
			// certificate: rotation runs on all of them, not only the leader
			// (concurrent writes resolve through resourceVersion conflicts).
			RequireLeaderElection: false,
			EnableReadinessCheck:  true,
			ControllerName:        rotatorName(o, "cert-rotator"),
		})
		if err != nil {
			return fmt.Errorf("adding the webhook certificate rotator: %w", err)
		}
		return addRecords(mgr)
	}
	return gatedServer{Server: srv, ready: ready}, add, nil
}

// rotatorSeq numbers rotator controllers of managers that skip name validation.
var rotatorSeq atomic.Int64

// rotatorName is a rotator's controller name (its metrics' controller label).
// controller-runtime refuses a controller name twice in one process, and
// cert-controller cannot be told to skip that check, so the managers of
// tests that start several in one process (SkipNameValidation) get numbered
// names.
func rotatorName(o Options, name string) string {
	if !o.SkipNameValidation {
		return name
	}
	return fmt.Sprintf("%s-%d", name, rotatorSeq.Add(1))
}

// recordsRotatorObjects are the collections the records server's rotator
// lists and watches, each with the one name it manages (scopedConfig).
func recordsRotatorObjects(ns string, r RecordsServerCert) map[string]string {
	return map[string]string{
		"/api/v1/namespaces/" + ns + "/secrets":       r.SecretName,
		"/apis/apiregistration.k8s.io/v1/apiservices": r.APIServiceName,
	}
}

// addRecordsServerRotator adds a second rotator for the records server's
// certificate: it writes the CA and the certificate into r.SecretName and
// injects the CA into the APIService r.APIServiceName (the records server's
// pods mount the Secret). It runs on the leader only: no replica of the
// manager serves with this certificate.
//
// cert-controller's rotator waits for a certificate file in its CertDir
// before it injects the CA (and stops the manager when none appears within
// about 17 minutes); nothing in the manager's pod mounts the records
// server's Secret, so the rotator is pointed at the webhook certificate
// directory, which the webhook certificate fills (from the webhook rotator or
// cert-manager) in every working manager, and is told not to gate its
// injection on it.
func addRecordsServerRotator(mgr ctrl.Manager, ns, certDir string, r RecordsServerCert, controllerName string) error {
	names := recordsRotatorObjects(ns, r)
	ready := make(chan struct{}) // closed by the rotator once the CA is injected; nothing waits for it
	err := rotator.AddRotator(scopedManager{Manager: mgr, cfg: scopedConfig(mgr.GetConfig(), names)}, &rotator.CertRotator{
		SecretKey:             types.NamespacedName{Namespace: ns, Name: r.SecretName},
		CertDir:               certDir,
		CAName:                "partnergov-records-ca",
		CAOrganization:        "partnergov",
		DNSName:               r.DNSName(ns),
		ExtraDNSNames:         []string{r.DNSName(ns) + ".cluster.local"},
		IsReady:               ready,
		Webhooks:              []rotator.WebhookInfo{{Name: r.APIServiceName, Type: rotator.APIService}},
		FieldOwner:            "partnergov-cert-rotation",
		RequireLeaderElection: true,
		EnableReadinessCheck:  false,
		// A second rotator in one manager needs a controller name of its own.
		ControllerName: controllerName,
	})
	if err != nil {
		return fmt.Errorf("adding the records server certificate rotator: %w", err)
	}
	return nil
}

// gatedServer starts the webhook server only when ready is closed.
type gatedServer struct {
	webhook.Server
	ready <-chan struct{}
}

func (s gatedServer) Start(ctx context.Context) error {
	select {
	case <-s.ready:
		return s.Server.Start(ctx)
	case <-ctx.Done():
		return nil
	}
}

// scopedManager hands a rotator a config whose list and watch requests name
// the objects it manages: the one Secret and the webhook configurations or
// APIService it injects into. The rotator's informers list whole collections,
// and RBAC can restrict list and watch by resourceNames only when the request
// carries a metadata.name field selector; with it, the install grants each
// rotator its objects and nothing else.
type scopedManager struct {
	ctrl.Manager
	cfg *rest.Config
}

func (m scopedManager) GetConfig() *rest.Config { return m.cfg }

// scopedConfig adds to every list and watch of a collection path in names
// (relative to the API server's root) a field selector for its one name.
func scopedConfig(cfg *rest.Config, names map[string]string) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return nameSelector{rt: rt, names: names} })
	return cfg
}

type nameSelector struct {
	rt    http.RoundTripper
	names map[string]string // collection path -> the one object name to list and watch
}

func (n nameSelector) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && !req.URL.Query().Has("fieldSelector") {
		for path, name := range n.names {
			if strings.HasSuffix(req.URL.Path, path) {
				req = req.Clone(req.Context())
				q := req.URL.Query()
				q.Set("fieldSelector", "metadata.name="+name)
				req.URL.RawQuery = q.Encode()
				break
			}
		}
	}
	return n.rt.RoundTrip(req)
}
