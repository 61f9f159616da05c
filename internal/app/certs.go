package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

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

// webhookServer returns the webhook server for the manager's options, and a
// function to call once the manager exists. With rotation on, the server only
// starts once the rotator has written a certificate, the kubelet has mounted
// it and the caBundle is injected; until then /readyz fails, so the pod gets
// no webhook traffic before it can answer it.
func webhookServer(o Options) (webhook.Server, func(ctrl.Manager) error, error) {
	srv := webhook.NewServer(webhook.Options{Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.WebhookCertDir})
	c := o.CertRotation
	if !c.Enabled {
		return srv, func(ctrl.Manager) error { return nil }, nil
	}
	ns := c.namespace()
	switch {
	case ns == "":
		return nil, nil, errors.New("cert rotation needs the Secret's namespace: set --cert-secret-namespace or POD_NAMESPACE")
	case c.SecretName == "" || c.ServiceName == "" || c.MutatingWebhookConfiguration == "" || c.ValidatingWebhookConfiguration == "":
		return nil, nil, errors.New("cert rotation needs the Secret, Service and both webhook configuration names")
	}
	certDir := o.WebhookCertDir
	if certDir == "" { // the webhook server's own default
		certDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	ready := make(chan struct{})
	add := func(mgr ctrl.Manager) error {
		err := rotator.AddRotator(scopedManager{Manager: mgr, cfg: scopedConfig(mgr.GetConfig(), ns, c)}, &rotator.CertRotator{
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
		})
		if err != nil {
			return fmt.Errorf("adding the webhook certificate rotator: %w", err)
		}
		return nil
	}
	return gatedServer{Server: srv, ready: ready}, add, nil
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

// scopedManager hands the rotator a config whose list and watch requests name
// the one Secret and the two webhook configurations it manages. The rotator's
// informers list whole collections, and RBAC can restrict list and watch by
// resourceNames only when the request carries a metadata.name field selector;
// with it, the install grants the rotator those three objects and nothing else.
type scopedManager struct {
	ctrl.Manager
	cfg *rest.Config
}

func (m scopedManager) GetConfig() *rest.Config { return m.cfg }

func scopedConfig(cfg *rest.Config, ns string, c CertRotation) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	names := map[string]string{
		"/api/v1/namespaces/" + ns + "/secrets":                                 c.SecretName,
		"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations":   c.MutatingWebhookConfiguration,
		"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations": c.ValidatingWebhookConfiguration,
	}
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
