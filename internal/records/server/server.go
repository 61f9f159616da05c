// Package server is partnergov's records server: an aggregated API server
// (k8s.io/apiserver, registered with the cluster by an APIService) serving
// decisionrecords.records.partnergov.io/v1alpha1 from PostgreSQL
// (internal/records/pgstore), with the cluster's authentication and RBAC
// (delegated to kube-apiserver), so kubectl, the manager and the plugin use
// records as they use the CRD.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/records/pgstore"
)

// DSNEnv is the environment variable the database's DSN may come from.
const DSNEnv = "PARTNERGOV_RECORDS_DATABASE_DSN"

// Options configure the records server.
type Options struct {
	SecureServing  *genericoptions.SecureServingOptionsWithLoopback
	Authentication *genericoptions.DelegatingAuthenticationOptions
	Authorization  *genericoptions.DelegatingAuthorizationOptions

	// DSN is the database's connection string (a PostgreSQL URL or key=value
	// string). From DSNFile or the DSNEnv environment variable when empty.
	DSN string
	// DSNFile holds the DSN (a mounted Secret).
	DSNFile string
	// MigrationDSN, when set, is the schema owner's DSN the migrations run as;
	// otherwise they run as DSN's role (on an up-to-date schema, no rights needed).
	MigrationDSN string
	// MigrationDSNFile holds MigrationDSN.
	MigrationDSNFile string
	// MigrateOnly applies the migrations and serves nothing (Migrate): an
	// init container runs it with the owner's DSN, which the serving
	// container then never holds.
	MigrateOnly bool
	// Creator is the one username that may create records: the manager's.
	Creator string
	// PruneInterval is how often records past their retention are deleted; 0 never.
	PruneInterval time.Duration
	// AlternateDNS are names the self-signed serving certificate carries
	// besides localhost (the Service's name: records-server.<namespace>.svc).
	AlternateDNS []string
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	o := &Options{
		SecureServing:  genericoptions.NewSecureServingOptions().WithLoopback(),
		Authentication: genericoptions.NewDelegatingAuthenticationOptions(),
		Authorization:  genericoptions.NewDelegatingAuthorizationOptions(),
		PruneInterval:  time.Hour,
	}
	o.SecureServing.BindPort = 8443
	return o
}

// AddFlags binds the options to flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.SecureServing.AddFlags(fs)
	o.Authentication.AddFlags(fs)
	o.Authorization.AddFlags(fs)
	fs.StringVar(&o.DSNFile, "database-dsn-file", o.DSNFile,
		"file holding the PostgreSQL DSN of the records database (else the "+DSNEnv+" environment variable)")
	fs.StringVar(&o.MigrationDSNFile, "migration-dsn-file", o.MigrationDSNFile,
		"file holding the DSN of the schema's owner, to apply migrations at start (else they run as the records role, which suffices on an up-to-date schema); give it to --migrate-only, in an init container, so the serving container never holds the owner's DSN")
	fs.BoolVar(&o.MigrateOnly, "migrate-only", o.MigrateOnly,
		"apply the records schema's migrations (as --migration-dsn-file's role, else the records DSN's) and exit: 0 when the schema is up to date, non-zero with the error")
	fs.StringVar(&o.Creator, "creator-username", o.Creator,
		"the one username that may create records: the partnergov manager's (system:serviceaccount:<namespace>:<name>)")
	fs.DurationVar(&o.PruneInterval, "prune-interval", o.PruneInterval, "how often records past their retention are deleted (0: never)")
	fs.StringSliceVar(&o.AlternateDNS, "self-signed-dns-names", o.AlternateDNS,
		"DNS names of the self-signed serving certificate when no --tls-cert-file is given (the Service's name.namespace.svc)")
}

func readDSN(value, file, env string) (string, error) {
	if value != "" {
		return value, nil
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the database DSN: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if env != "" {
		return os.Getenv(env), nil
	}
	return "", nil
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	errs = append(errs, o.SecureServing.Validate()...)
	errs = append(errs, o.Authentication.Validate()...)
	errs = append(errs, o.Authorization.Validate()...)
	if o.MigrateOnly {
		return nil // serves nothing: only the DSN matters (Migrate checks it)
	}
	if o.Creator == "" {
		errs = append(errs, errors.New("--creator-username is required: the manager's username, the only one that may create records"))
	}
	if o.PruneInterval < 0 {
		errs = append(errs, fmt.Errorf("--prune-interval must not be negative, not %s", o.PruneInterval))
	}
	return errors.Join(errs...)
}

// Server is a records server ready to run.
type Server struct {
	generic *genericapiserver.GenericAPIServer
	store   *pgstore.Store
	opts    *Options
	clock   clock.Clock
}

// effectiveVersion is the Kubernetes version the server's API machinery is
// (its module's), which the aggregator shows for it.
var effectiveVersion = compatibility.DefaultBuildEffectiveVersion()

// Migrate applies the records schema's migrations, as MigrationDSN's
// (MigrationDSNFile's) role when given, else as the records DSN's, and
// returns: --migrate-only.
func Migrate(ctx context.Context, o *Options) error {
	migrationDSN, err := readDSN(o.MigrationDSN, o.MigrationDSNFile, "")
	if err != nil {
		return err
	}
	if migrationDSN == "" {
		if migrationDSN, err = readDSN(o.DSN, o.DSNFile, DSNEnv); err != nil {
			return err
		}
	}
	if migrationDSN == "" {
		return fmt.Errorf("no records database to migrate: pass --migration-dsn-file (the schema owner's DSN), --database-dsn-file or set %s", DSNEnv)
	}
	return migrate(ctx, migrationDSN)
}

// New connects to the database, applies the migrations and builds the server.
func New(ctx context.Context, o *Options) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.MigrateOnly {
		return nil, errors.New("--migrate-only serves nothing: call Migrate")
	}
	dsn, err := readDSN(o.DSN, o.DSNFile, DSNEnv)
	if err != nil {
		return nil, err
	}
	if dsn == "" {
		return nil, fmt.Errorf("no records database: pass --database-dsn-file or set %s", DSNEnv)
	}
	if err := Migrate(ctx, o); err != nil {
		return nil, err
	}
	store, err := pgstore.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s, err := build(o, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	return s, nil
}

func migrate(ctx context.Context, dsn string) error {
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Migrate(ctx)
}

func build(o *Options, store *pgstore.Store) (*Server, error) {
	if err := o.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", o.AlternateDNS, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating a self-signed serving certificate: %w", err)
	}
	cfg := genericapiserver.NewRecommendedConfig(Codecs)
	cfg.EffectiveVersion = effectiveVersion
	if err := o.SecureServing.ApplyTo(&cfg.SecureServing, &cfg.LoopbackClientConfig); err != nil {
		return nil, err
	}
	if err := o.Authentication.ApplyTo(&cfg.Authentication, cfg.SecureServing, nil); err != nil {
		return nil, err
	}
	if err := o.Authorization.ApplyTo(&cfg.Authorization); err != nil {
		return nil, err
	}
	cfg.OpenAPIConfig, cfg.OpenAPIV3Config = openAPIConfigs()
	// Ready only while the database answers: an aggregated API that is
	// registered but failing holds up namespace deletion in the whole cluster.
	cfg.ReadyzChecks = append(cfg.ReadyzChecks, healthz.NamedCheck("records-database", func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		return store.Ping(ctx)
	}))

	// Ready only once the aggregator's client CA is loaded: before it, every
	// request kube-apiserver proxies is taken as anonymous and refused.
	cfg.ReadyzChecks = append(cfg.ReadyzChecks, requestHeaderCACheck(cfg.Authentication.RequestHeaderConfig))

	generic, err := cfg.Complete().New("partnergov-records-server", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	s := &Server{generic: generic, store: store, opts: o, clock: clock.RealClock{}}
	group := genericapiserver.NewDefaultAPIGroupInfo(recordsv1alpha1.GroupVersion.Group, Scheme, metav1.ParameterCodec, Codecs)
	group.VersionedResourcesStorageMap[recordsv1alpha1.GroupVersion.Version] = map[string]rest.Storage{
		"decisionrecords": &REST{Store: store, Creator: o.Creator, Clock: s.clock},
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, err
	}
	return s, nil
}

// Run serves until ctx ends, pruning records past their retention every
// PruneInterval, then closes the database.
func (s *Server) Run(ctx context.Context) error {
	defer s.store.Close()
	if s.opts.PruneInterval > 0 {
		go s.prune(ctx)
	}
	return s.generic.PrepareRun().RunWithContext(ctx)
}

// prune deletes records past their retention now and every PruneInterval.
func (s *Server) prune(ctx context.Context) {
	log := klog.FromContext(ctx).WithName("pruner")
	for {
		if n, err := s.store.Prune(ctx, s.clock.Now()); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error(err, "pruning decision records", "pruned", n)
		} else if n > 0 {
			log.Info("pruned decision records past their retention", "pruned", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(s.opts.PruneInterval):
		}
	}
}

// requestHeaderCACheck fails until the front proxy's (the aggregator's) client
// CA is loaded from kube-system/extension-apiserver-authentication: until then
// the server cannot tell kube-apiserver's proxied requests from anonymous ones.
func requestHeaderCACheck(rh *authenticatorfactory.RequestHeaderConfig) healthz.HealthChecker {
	return healthz.NamedCheck("requestheader-client-ca", func(*http.Request) error {
		if rh == nil || rh.CAContentProvider == nil {
			return errors.New("no request header client CA configured: kube-apiserver's requests cannot be authenticated (is API aggregation set up?)")
		}
		if len(rh.CAContentProvider.CurrentCABundleContent()) == 0 {
			return errors.New("the request header client CA is not loaded yet")
		}
		return nil
	})
}
