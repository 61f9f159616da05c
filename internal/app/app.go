// Package app builds the partnergov manager: scheme, cache, controllers and
// webhooks. main.go, `make run` and the integration tests all start it from here,
// so they run the same code.
package app

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
	"github.com/partnergov/partnergov/internal/seal"
	pgwebhook "github.com/partnergov/partnergov/internal/webhook"
)

// Scheme knows the Kubernetes built-in kinds and partnergov's.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(v1alpha1.AddToScheme(Scheme))
	utilruntime.Must(recordsv1alpha1.AddToScheme(Scheme))
}

var managedBy = labels.SelectorFromSet(labels.Set{controllers.ManagedByLabel: controllers.ManagedByValue})

// Options configure the manager. Zero values take the defaults of `make run`.
type Options struct {
	// MetricsBindAddress serves Prometheus metrics; "0" turns them off.
	MetricsBindAddress string
	// MetricsSecure serves them over HTTPS to authenticated, authorized callers only.
	MetricsSecure bool
	// PprofBindAddress serves Go's pprof profiles; "" or "0" turns them off.
	PprofBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz.
	HealthProbeBindAddress string
	// LeaderElection makes only one replica act at a time.
	LeaderElection bool
	// LeaderElectionNamespace holds the lease when running out of cluster.
	LeaderElectionNamespace string
	// WebhookHost, WebhookPort and WebhookCertDir configure the admission webhook server.
	WebhookHost    string
	WebhookPort    int
	WebhookCertDir string
	// CertRotation generates and renews the webhook certificate (certs.go).
	CertRotation CertRotation
	// RecordsServerCert, when set, generates and renews the records server's
	// serving certificate and injects its CA into the records APIService (certs.go).
	RecordsServerCert RecordsServerCert
	// QPS and Burst limit the manager's requests to the API server.
	QPS   float32
	Burst int
	// Controllers tunes every controller.
	Controllers controllers.Options
	// SyncPeriod is how often the cache re-delivers every object to the
	// controllers (a full resync); zero is controller-runtime's default (10h).
	SyncPeriod time.Duration
	// Clock is the time source of every deadline; nil is the real clock.
	Clock clock.PassiveClock
	// SkipNameValidation lets tests start several managers in one process.
	SkipNameValidation bool
	// SealKeyFile names a file of seal keys (seal.Parse: one per line, the current
	// first), usually a mounted Secret. With sealing on, the webhooks seal evidence
	// provenance and review decisions and the controller seals tier decisions and
	// honours nothing unsealed. Empty (and Seals nil): sealing is off.
	SealKeyFile string
	// SealKeySecret names a Secret of seal keys (in SealKeySecretNamespace, or
	// POD_NAMESPACE) that the manager owns: shipped empty, it gets a new random
	// key from the first manager that starts, and the state stored before is
	// adopted (sealed once). Used when SealKeyFile is empty.
	SealKeySecret          string
	SealKeySecretNamespace string
	// MinRecordRetention is the least recordRetention a program may set
	// (admission refuses less); zero is v1alpha1.MinRecordRetention, one year.
	MinRecordRetention time.Duration
	// Seals, when set, are used instead of SealKeyFile and SealKeySecret (tests, make run).
	Seals *seal.Keys
}

// Defaults are the settings `make run` and config/manager use.
var Defaults = Options{
	MetricsBindAddress:     ":8080",
	HealthProbeBindAddress: ":8081",
	WebhookPort:            9443,
	// make bench: 50 decisions a second need about 100 requests (status and
	// event); the API server's priority and fairness protects it beyond that.
	QPS:   200,
	Burst: 300,
	// Reconciles mostly wait on the API server; 8 keep a 2-core machine busy.
	Controllers: controllers.Options{MaxConcurrentReconciles: 8},
	CertRotation: CertRotation{
		SecretName:                     "partnergov-webhook-server-cert",
		ServiceName:                    "partnergov-webhook-service",
		MutatingWebhookConfiguration:   "partnergov-mutating-webhook-configuration",
		ValidatingWebhookConfiguration: "partnergov-validating-webhook-configuration",
	},
}

// NewManager builds a manager with every controller and webhook registered.
func NewManager(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	if o.QPS > 0 {
		cfg.QPS = o.QPS
	}
	if o.Burst > 0 {
		cfg.Burst = o.Burst
	}
	// One token bucket for every client the manager builds from cfg (each
	// resource's REST client, the API reader, events, leader election), so that
	// --kube-api-qps is the manager's rate, not a rate per resource.
	if cfg.QPS > 0 && cfg.RateLimiter == nil {
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Seals == nil && o.SealKeyFile != "" {
		data, err := os.ReadFile(o.SealKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading --seal-key-file: %w", err)
		}
		if o.Seals, err = seal.Parse(data); err != nil {
			return nil, fmt.Errorf("--seal-key-file %s: %w", o.SealKeyFile, err)
		}
	}
	if o.Seals == nil && o.SealKeyFile == "" && o.SealKeySecret != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		keys, err := loadSealSecret(ctx, cfg, o.sealSecret())
		cancel()
		if err != nil {
			return nil, err
		}
		o.Seals = keys
	}
	cfg.Wrap(countWrites)
	skip := o.SkipNameValidation
	username, err := whoAmI(cfg)
	if err != nil {
		return nil, err
	}
	webhookServer, addCertRotator, err := webhookServer(o)
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  Scheme,
		Metrics:                 metricsOptions(o),
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		PprofBindAddress:        o.PprofBindAddress,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "partnergov.governance.partnergov.io",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// main exits as soon as the manager stops, so the lease can be handed
		// over at once instead of after its duration.
		LeaderElectionReleaseOnCancel: true,
		// Managed fields are half of a typical object and the controller never
		// reads them; trimForCache drops them and trims what else it can.
		// The integration identities partnergov provisions are the only ServiceAccounts,
		// Roles and RoleBindings it needs to see.
		Cache: cache.Options{
			DefaultTransform: trimForCache,
			SyncPeriod:       syncPeriod(o.SyncPeriod),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.ServiceAccount{}: {Label: managedBy},
				&rbacv1.Role{}:           {Label: managedBy},
				&rbacv1.RoleBinding{}:    {Label: managedBy},
			},
		},
		// The manager keeps no record in memory: records accumulate for years,
		// so no read of one ever starts an informer (metadata or not); the
		// controllers create records as their status markers say and take
		// AlreadyExists as done.
		Client:        client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&recordsv1alpha1.DecisionRecord{}, &v1alpha1.RecordChain{}}}},
		WebhookServer: webhookServer,
		Controller:    ctrlConfig(skip),
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := addCertRotator(mgr); err != nil {
		return nil, err
	}
	if err := setup(mgr, o, username); err != nil {
		return nil, err
	}
	return mgr, nil
}

func setup(mgr ctrl.Manager, o Options, username string) error {
	c := mgr.GetClient()
	controllers.RegisterMetrics(c, mgr.Elected())
	// One chain for every controller that records: a partner's records are
	// chained one at a time in this process.
	chain := &controllers.Chain{Client: c, Reader: mgr.GetAPIReader(), Seals: o.Seals, Clock: o.Clock, Events: mgr.GetEventRecorder(controllers.FieldOwner)}
	tierRecorder := &controllers.TierRecorder{Client: c, APIReader: mgr.GetAPIReader(), Clock: o.Clock, Seals: o.Seals, Chain: chain}
	for name, r := range map[string]interface {
		SetupWithManager(ctrl.Manager, controllers.Options) error
	}{
		"partnerprogram": &controllers.ProgramReconciler{Client: c, Clock: o.Clock, Seals: o.Seals},
		"partnertier":    &controllers.TierReconciler{Client: c, Clock: o.Clock},
		"reviewpath":     controllers.NewReviewPathReconciler(c, o.Clock),
		"exceptionrequest": &controllers.RequestReconciler{
			Client: c, APIReader: mgr.GetAPIReader(), Clock: o.Clock, Recorder: mgr.GetEventRecorder(controllers.FieldOwner), Seals: o.Seals, Chain: chain,
		},
		"listing": &controllers.ListingReconciler{
			Client: c, Clock: o.Clock, Recorder: mgr.GetEventRecorder(controllers.FieldOwner), Seals: o.Seals, Chain: chain,
		},
		"dealregistration": &controllers.DealReconciler{
			Client: c, APIReader: mgr.GetAPIReader(), Clock: o.Clock, Recorder: mgr.GetEventRecorder(controllers.FieldOwner), Seals: o.Seals, Chain: chain,
		},
		"tierrecord": tierRecorder,
		"jointbusinessplan": &controllers.PlanReconciler{
			Client: c, APIReader: mgr.GetAPIReader(), Clock: o.Clock, Seals: o.Seals,
		},
		"partner": &controllers.PartnerReconciler{
			Client: c, APIReader: mgr.GetAPIReader(), Clock: o.Clock, Recorder: mgr.GetEventRecorder(controllers.FieldOwner), Seals: o.Seals,
			Heads:       mgr.GetCache(),
			TierRecords: tierRecorder,
		},
	} {
		if err := r.SetupWithManager(mgr, o.Controllers); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", name, err)
		}
	}
	storePrunes, err := RecordsStorePrunes(mgr.GetConfig())
	if err != nil {
		return err
	}
	if err := mgr.Add(&controllers.RecordPruner{Client: c, APIReader: mgr.GetAPIReader(), Clock: o.Clock, Interval: time.Hour, StorePrunes: storePrunes}); err != nil {
		return err
	}
	if o.Seals.Adopting() { // loaded from the seal Secret, before its adoption ended
		secret := o.sealSecret()
		if err := mgr.Add(&controllers.SealAdopter{Client: c, APIReader: mgr.GetAPIReader(), Seals: o.Seals, Secret: secret, Interval: 10 * time.Second}); err != nil {
			return err
		}
		if err := mgr.Add(&controllers.SealAdoptionWatch{APIReader: mgr.GetAPIReader(), Seals: o.Seals, Secret: secret, Interval: 10 * time.Second}); err != nil {
			return err
		}
	}
	if err := pgwebhook.Setup(mgr, pgwebhook.Options{ControllerUsername: username, Clock: o.Clock, Seals: o.Seals, MinRecordRetention: o.MinRecordRetention}); err != nil {
		return fmt.Errorf("setting up webhooks: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("readyz", mgr.GetWebhookServer().StartedChecker())
}

func syncPeriod(d time.Duration) *time.Duration {
	if d <= 0 {
		return nil
	}
	return &d
}

// RecordsStorePrunes returns a function telling whether the records store serving
// decisionrecords.records.partnergov.io prunes its own records: the records
// server (the postgres store) advertises no delete verb and prunes what is past
// retention itself; the CRD does advertise delete.
func RecordsStorePrunes(cfg *rest.Config) (func(context.Context) (bool, error), error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return func(context.Context) (bool, error) {
		list, err := dc.ServerResourcesForGroupVersion(recordsv1alpha1.GroupVersion.String())
		if err != nil {
			return false, err
		}
		for _, r := range list.APIResources {
			if r.Name == "decisionrecords" {
				return !slices.Contains(r.Verbs, "delete"), nil
			}
		}
		return false, fmt.Errorf("%s serves no decisionrecords", recordsv1alpha1.GroupVersion)
	}, nil
}
