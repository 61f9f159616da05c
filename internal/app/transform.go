package app

import (
	"maps"

	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// lastApplied is the annotation client-side `kubectl apply` keeps: a copy of
// the whole object as last applied, which no controller reads.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// trimForCache is the cache's transform for every object: it drops what no
// controller reads (managed fields, kubectl's last-applied copy) and, for
// Partners, the one kind cached by the thousand, gives each slice of status
// exactly its length. The JSON decoder grows slices by doubling, so a list of
// five conditions holds room for eight, and the cache keeps every Partner for
// the manager's lifetime.
func trimForCache(obj any) (any, error) {
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetManagedFields(nil)
		if a := acc.GetAnnotations(); a[lastApplied] != "" {
			a = maps.Clone(a)
			delete(a, lastApplied)
			acc.SetAnnotations(a)
		}
	}
	if p, ok := obj.(*v1alpha1.Partner); ok {
		clipPartner(p)
	}
	return obj, nil
}

// clipPartner reallocates p's status slices at their length.
func clipPartner(p *v1alpha1.Partner) {
	s := &p.Status
	s.Evidence = clip(s.Evidence)
	s.Entitlements = clip(s.Entitlements)
	s.DealMetrics = clip(s.DealMetrics)
	s.ReadinessClaims = clip(s.ReadinessClaims)
	s.Grants = clip(s.Grants)
	s.Conditions = clip(s.Conditions)
	s.History = clip(s.History)
}

// clip returns s in a new array of exactly its length when it has spare room.
func clip[S ~[]E, E any](s S) S {
	if cap(s) == len(s) {
		return s
	}
	if len(s) == 0 {
		return nil
	}
	return append(make(S, 0, len(s)), s...)
}

var _ toolscache.TransformFunc = trimForCache
