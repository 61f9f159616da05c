package app

import (
	"maps"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// lastApplied is the annotation client-side `kubectl apply` keeps: a copy of
// the whole object as last applied, which no controller reads.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// trimForCache is the cache's transform for every object: it drops what no
// controller reads (managed fields, kubectl's last-applied copy) and shares
// the strings objects repeat (namespace, labels, annotations, owner kinds)
// through cacheStrings. For Partners, the one kind cached by the thousand, it
// also gives each slice of status exactly its length (the JSON decoder grows
// slices by doubling, so a list of five conditions holds room for eight, and
// the cache keeps every Partner for the manager's lifetime) and shares the
// strings of spec and status drawn from small sets: metric names, reporters,
// tier names, condition types, reasons and messages. Values stay equal: only
// the memory behind them is shared; the cache's objects are never written in
// place (controllers DeepCopy first), and strings are immutable.
func trimForCache(obj any) (any, error) {
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetManagedFields(nil)
		if a := acc.GetAnnotations(); a[lastApplied] != "" {
			a = maps.Clone(a)
			delete(a, lastApplied)
			acc.SetAnnotations(a)
		}
	}
	if oma, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if om, ok := oma.GetObjectMeta().(*metav1.ObjectMeta); ok {
			internMeta(cacheStrings, om)
		}
	}
	if p, ok := obj.(*v1alpha1.Partner); ok {
		clipPartner(p)
		internPartner(cacheStrings, p)
	}
	if rc, ok := obj.(*v1alpha1.RecordChain); ok {
		// The partner controller reads a cached head for its sealed fields
		// (newestTierChange); the newest record's copy is read uncached, by
		// the Chain, and not kept here.
		rc.Spec.Newest = v1alpha1.ChainedRecord{Name: rc.Spec.Newest.Name}
	}
	return obj, nil
}

// internMeta shares m's strings that repeat across objects. Names, UIDs and
// resource versions are unique per object and stay as they are.
func internMeta(in *interner, m *metav1.ObjectMeta) {
	internString(in, &m.Namespace)
	internMap(in, m.Labels)
	internMap(in, m.Annotations)
	internAll(in, m.Finalizers)
	for i := range m.OwnerReferences {
		r := &m.OwnerReferences[i]
		internString(in, &r.APIVersion)
		internString(in, &r.Kind)
	}
}

// internPartner shares the strings of p's spec and status that come from
// small sets. Seals, values, request and deal names are left alone.
func internPartner(in *interner, p *v1alpha1.Partner) {
	internString(in, &p.APIVersion)
	internString(in, &p.Kind)
	sp := &p.Spec
	internString(in, &sp.Program)
	internString(in, &sp.Type)
	internString(in, &sp.Owner)
	internAll(in, sp.Segments)
	internAll(in, sp.Regions)
	if sp.Offboarding != nil {
		internString(in, &sp.Offboarding.Reason)
	}

	s := &p.Status
	for i := range s.Evidence {
		e := &s.Evidence[i]
		internString(in, &e.Metric)
		internString(in, &e.Source)
		internString(in, &e.TrustedVia)
	}
	internString(in, &s.Tier)
	internString(in, &s.QualifiedTier)
	for i := range s.Entitlements {
		e := &s.Entitlements[i]
		internString(in, &e.Name)
		internAll(in, e.Segments)
		internString(in, &e.Source.Kind)
		if e.Source.Kind == v1alpha1.EntitlementSourceTier { // a request's name is its own
			internString(in, &e.Source.Name)
		}
		if e.Cap != nil {
			internString(in, &e.Cap.Currency)
		}
	}
	for i := range s.DealMetrics {
		internString(in, &s.DealMetrics[i].Metric)
	}
	if f := s.Funds; f != nil {
		internString(in, &f.Quarter)
		if f.Cap != nil {
			internString(in, &f.Cap.Currency)
		}
		for i := range f.Commitments {
			internString(in, &f.Commitments[i].Amount.Currency)
		}
	}
	for i := range s.ReadinessClaims {
		c := &s.ReadinessClaims[i]
		internString(in, &c.Kind)
		internString(in, &c.Product)
	}
	for i := range s.Grants {
		g := &s.Grants[i]
		internString(in, &g.Type)
		internString(in, &g.Tier)
	}
	for i := range s.Conditions {
		c := &s.Conditions[i]
		internString(in, &c.Type)
		internString(in, &c.Status)
		internString(in, &c.Reason)
		internString(in, &c.Message)
	}
	if l := s.Lifecycle; l != nil {
		internString(in, &l.Phase)
		internString(in, &l.Reason)
		internString(in, &l.Message)
		for i := range l.Onboarding {
			internString(in, &l.Onboarding[i].Name)
			internString(in, &l.Onboarding[i].State)
		}
		internAll(in, l.ProbationReasons)
		internAll(in, l.Withheld)
		for i := range l.Transitions {
			t := &l.Transitions[i]
			internString(in, &t.From)
			internString(in, &t.To)
			internString(in, &t.Reason)
			internString(in, &t.Message)
		}
	}
	if e := s.Enablement; e != nil {
		internString(in, &e.Tier)
		for i := range e.Required {
			r := &e.Required[i]
			internString(in, &r.Track)
			internString(in, &r.Tier)
			internString(in, &r.Description)
		}
	}
	for i := range s.History {
		d := &s.History[i]
		internString(in, &d.From)
		internString(in, &d.To)
		internString(in, &d.Reason)
		internString(in, &d.Message)
		for j := range d.Evidence {
			internString(in, &d.Evidence[j].Metric)
		}
	}
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
	for i := range s.History {
		s.History[i].Evidence = clip(s.History[i].Evidence)
	}
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
