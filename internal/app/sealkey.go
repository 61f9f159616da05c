package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/internal/seal"
)

// sealSecret names the Secret of seal keys: --seal-key-secret in
// --seal-key-secret-namespace, or in POD_NAMESPACE.
func (o Options) sealSecret() types.NamespacedName {
	ns := o.SealKeySecretNamespace
	if ns == "" {
		ns = os.Getenv("POD_NAMESPACE")
	}
	return types.NamespacedName{Namespace: ns, Name: o.SealKeySecret}
}

// loadSealSecret reads the seal keys from the manager's Secret. The install ships
// it empty: the first manager to start writes a new random key into it, marked
// for adoption (seal.AnnotationAdoption), so that what was stored before sealing
// was on is sealed once instead of being ignored. Several replicas may start at
// once: the update carries the resourceVersion read, so exactly one key wins and
// the others read it back. Only get and update are needed, on this one Secret.
func loadSealSecret(ctx context.Context, cfg *rest.Config, key types.NamespacedName) (*seal.Keys, error) {
	if key.Namespace == "" {
		return nil, errors.New("--seal-key-secret needs the Secret's namespace: set --seal-key-secret-namespace or POD_NAMESPACE")
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		var s corev1.Secret
		if err := c.Get(ctx, key, &s); err != nil {
			return nil, fmt.Errorf("reading the seal key Secret %s (the install ships it empty): %w", key, err)
		}
		if len(s.Data[seal.SecretKey]) > 0 {
			keys, err := seal.Parse(s.Data[seal.SecretKey])
			if err != nil {
				return nil, fmt.Errorf("Secret %s, key %q: %w", key, seal.SecretKey, err)
			}
			pending := s.Annotations[seal.AnnotationAdoption] == seal.AdoptionPending
			if !pending && s.Annotations[seal.AnnotationFormat] != seal.Format {
				// Stored by a version that sealed less: adopt again (once).
				if s.Annotations == nil {
					s.Annotations = map[string]string{}
				}
				s.Annotations[seal.AnnotationAdoption] = seal.AdoptionPending
				switch err := c.Update(ctx, &s); {
				case err == nil:
					pending = true
				case apierrors.IsConflict(err) && attempt < 5:
					time.Sleep(100 * time.Millisecond)
					continue
				default:
					return nil, fmt.Errorf("marking Secret %s for adoption of the new seal format: %w", key, err)
				}
			}
			keys.SetAdopting(pending)
			return keys, nil
		}
		generated, err := seal.Generate()
		if err != nil {
			return nil, err
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[seal.SecretKey] = []byte(generated + "\n")
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[seal.AnnotationAdoption] = seal.AdoptionPending
		err = c.Update(ctx, &s)
		switch {
		case err == nil:
			continue // read back what was stored
		case apierrors.IsConflict(err) && attempt < 5:
			time.Sleep(100 * time.Millisecond) // another replica wrote first: use its key
		default:
			return nil, fmt.Errorf("writing a new seal key into Secret %s: %w", key, err)
		}
	}
}
