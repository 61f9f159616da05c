// Command go-reporter reports one evidence entry into a Partner's status the way
// a partnergov integration does: server-side apply on the status subresource,
// built with the generated apply configurations, as the integration's own
// identity (the kubeconfig's) and field manager.
//
//	go run ./examples/integrations/go-reporter --kubeconfig integration.kubeconfig \
//	    --namespace partners --partner northwind-resellers \
//	    --metric training-completions --value 44 --field-manager northwind-lms
//
// The server stamps the entry's source (the authenticated identity) and
// trustedVia (the catalog rule that trusts it); a report the server refuses
// (another partner, a metric the catalog does not trust the identity for) exits
// 1 with the server's reason.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	ac "github.com/partnergov/partnergov/api/v1alpha1/applyconfiguration/api/v1alpha1"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the integration's identity (default: $KUBECONFIG, then ~/.kube/config)")
	namespace := flag.String("namespace", "", "the partner's namespace (default: the kubeconfig context's namespace)")
	partner := flag.String("partner", "", "the Partner to report evidence for")
	metric := flag.String("metric", "", "the catalog metric reported")
	value := flag.String("value", "", `the value, a decimal such as "44" or "4.5"`)
	fieldManager := flag.String("field-manager", "", "the integration's field manager, such as northwind-lms")
	flag.Parse()
	if *partner == "" || *metric == "" || *value == "" || *fieldManager == "" {
		fmt.Fprintln(os.Stderr, "go-reporter: --partner, --metric, --value and --field-manager are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := report(*kubeconfig, *namespace, *partner, *metric, *value, *fieldManager); err != nil {
		fmt.Fprintln(os.Stderr, "go-reporter:", err)
		os.Exit(1)
	}
}

func report(kubeconfig, namespace, partner, metric, value, fieldManager string) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return err
	}
	if namespace == "" {
		if namespace, _, err = loader.Namespace(); err != nil {
			return err
		}
	}
	// The scheme knows the API's group version, so the client can encode the apply's options for it.
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	// Only the entry this integration owns: server-side apply merges it into
	// status.evidence by its metric and leaves the other integrations' entries alone.
	apply := ac.Partner(partner, namespace).WithStatus(ac.PartnerStatus().WithEvidence(
		ac.EvidenceEntry().
			WithMetric(metric).
			WithValue(v1alpha1.Decimal(value)).
			WithObservedAt(metav1.NewTime(time.Now().UTC().Truncate(time.Second)))))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The integration is the one source of this entry, so it takes the fields
	// over from an earlier manager of its own (ForceOwnership); the server still
	// refuses an entry another identity reported.
	err = c.Status().Apply(ctx, apply, client.FieldOwner(fieldManager), client.ForceOwnership)
	var refused apierrors.APIStatus
	if errors.As(err, &refused) {
		s := refused.Status()
		return fmt.Errorf("the server refused the report (%d %s): %s", s.Code, s.Reason, s.Message)
	}
	if err != nil {
		return err
	}

	// The apply answered with the stored object: show the entry as the server stamped it.
	for _, e := range apply.Status.Evidence {
		if e.Metric != nil && *e.Metric == metric {
			fmt.Printf("reported %s=%s for %s/%s as %s (trusted via %s)\n",
				metric, deref(e.Value), namespace, partner, deref(e.Source), deref(e.TrustedVia))
		}
	}
	return nil
}

func deref[T ~string](p *T) string {
	if p == nil {
		return "-"
	}
	return string(*p)
}
