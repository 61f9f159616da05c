package plugin

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// ImportOptions say how ImportEvidence applies.
type ImportOptions struct {
	// FieldManager owns the applied entries (as kubectl apply --field-manager).
	FieldManager string
	// DryRun sends each apply through admission without writing it.
	DryRun bool
	// Force takes over entries another field manager owns (kubectl's --force-conflicts).
	Force bool
	// Progress, when set, is told after each partner how many rows it held.
	Progress func(rows int)
}

// PartnerImported is what became of one partner's apply.
type PartnerImported struct {
	PartnerEvidence
	// Kept are the metrics the field manager had reported on the partner
	// before and the file lacks: they were applied again as stored.
	Kept []string
	// Warnings the API server returned with the apply.
	Warnings []string
	// Err is the server's refusal (or why the partner could not be read).
	Err error
}

// ImportEvidence server-side-applies each partner's evidence to its status
// subresource, one apply per partner in plan order, as the client's identity
// with field manager o.FieldManager. An apply holds every entry the field
// manager owns on the partner: one leaving an owned entry out would remove it,
// so the entries the field manager reported before and the file lacks are
// read from the partner and applied again unchanged (the webhook keeps their
// provenance). An import thus adds and updates evidence and removes none.
// A refused apply refuses that partner only; the others are applied.
func ImportEvidence(ctx context.Context, c client.Client, plan []PartnerEvidence, o ImportOptions) []PartnerImported {
	out := make([]PartnerImported, len(plan))
	for i, p := range plan {
		res := PartnerImported{PartnerEvidence: p}
		res.Kept, res.Err = applyPartnerEvidence(ctx, c, p, o, &res.Warnings)
		out[i] = res
		if o.Progress != nil {
			o.Progress(len(p.Rows))
		}
	}
	return out
}

func applyPartnerEvidence(ctx context.Context, c client.Client, p PartnerEvidence, o ImportOptions, warnings *[]string) ([]string, error) {
	var stored v1alpha1.Partner
	stored.Namespace, stored.Name = p.Namespace, p.Partner
	if err := c.SubResource("status").Get(ctx, &stored, &stored); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, err
		}
		return nil, fmt.Errorf("reading its status, to keep the evidence field manager %s reported before: %w", o.FieldManager, err)
	}
	entries, kept, err := withOwnedEntries(&stored, o.FieldManager, p.Entries)
	if err != nil {
		return nil, err
	}
	evidence := make([]any, len(entries))
	for i, e := range entries {
		evidence[i] = map[string]any{"metric": e.Metric, "value": string(e.Value), "observedAt": e.ObservedAt.UTC().Format(time.RFC3339)}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "Partner",
		"metadata":   map[string]any{"name": p.Partner, "namespace": p.Namespace},
		"status":     map[string]any{"evidence": evidence},
	}}
	opts := []client.SubResourceApplyOption{client.FieldOwner(o.FieldManager)}
	if o.DryRun {
		opts = append(opts, client.DryRunAll)
	}
	if o.Force {
		opts = append(opts, client.ForceOwnership)
	}
	wctx := context.WithValue(ctx, warningsKey{}, warnings)
	return kept, c.Status().Apply(wctx, client.ApplyConfigurationFromUnstructured(u), opts...)
}

// withOwnedEntries adds to entries (sorted by metric) the stored entries of
// the metrics fieldManager owns by apply on the partner's status and entries
// lacks, as stored, and returns the metrics so kept.
func withOwnedEntries(stored *v1alpha1.Partner, fieldManager string, entries []v1alpha1.EvidenceEntry) ([]v1alpha1.EvidenceEntry, []string, error) {
	owned, err := ownedMetrics(stored.ManagedFields, fieldManager)
	if err != nil {
		return nil, nil, err
	}
	out := slices.Clone(entries)
	var kept []string
	for _, e := range stored.Status.Evidence {
		if !owned[e.Metric] || slices.ContainsFunc(entries, func(x v1alpha1.EvidenceEntry) bool { return x.Metric == e.Metric }) {
			continue
		}
		out = append(out, v1alpha1.EvidenceEntry{Metric: e.Metric, Value: e.Value, ObservedAt: e.ObservedAt})
		kept = append(kept, e.Metric)
	}
	slices.SortFunc(out, func(a, b v1alpha1.EvidenceEntry) int { return cmp.Compare(a.Metric, b.Metric) })
	slices.Sort(kept)
	return out, kept, nil
}

// ownedMetrics are the metrics whose evidence entries fieldManager owns by
// server-side apply on the status subresource, read from managedFields.
func ownedMetrics(managed []metav1.ManagedFieldsEntry, fieldManager string) (map[string]bool, error) {
	owned := map[string]bool{}
	for _, m := range managed {
		if m.Manager != fieldManager || m.Operation != metav1.ManagedFieldsOperationApply || m.Subresource != "status" || m.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(m.FieldsV1.Raw)); err != nil {
			return nil, fmt.Errorf("reading the fields field manager %s owns: %w", fieldManager, err)
		}
		set.Iterate(func(p fieldpath.Path) {
			if len(p) < 3 || p[0].FieldName == nil || *p[0].FieldName != "status" || p[1].FieldName == nil || *p[1].FieldName != "evidence" || p[2].Key == nil {
				return
			}
			for _, f := range *p[2].Key {
				if f.Name == "metric" && f.Value.IsString() {
					owned[f.Value.AsString()] = true
				}
			}
		})
	}
	return owned, nil
}
