package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/lifecycle"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// The bench's program (test/harness, copied here: internal/ does not import
// test/): six metrics reported by one trusted group, four tiers.
var (
	benchMetrics      = []string{"revenue", "influenced", "csat", "escalations", "certified", "training"}
	benchTiers        = []string{"bench-registered", "bench-select", "bench-advanced", "bench-premier"}
	benchTierEvidence = [][]string{
		{"50000", "0", "3.1", "5", "1"},
		{"200000", "0", "4.0", "5", "3"},
		{"800000", "1000000", "4.3", "2", "6"},
		{"2500000", "6000000", "4.7", "0", "12"},
	}
)

const (
	benchReporter      = "bench-crm"
	benchReporterGroup = "partnergov:bench-reporters"
)

// benchProgram is the bench's PartnerProgram and its tiers.
func benchProgram() (*v1alpha1.PartnerProgram, []v1alpha1.PartnerTier) {
	trusted := v1alpha1.Identities{Groups: []string{benchReporterGroup}}
	classes := []v1alpha1.MetricClass{v1alpha1.MetricClassOutcome, v1alpha1.MetricClassOutcome, v1alpha1.MetricClassOutcome,
		v1alpha1.MetricClassRisk, v1alpha1.MetricClassEnablement, v1alpha1.MetricClassEnablement}
	units := []string{"USD", "USD", "score", "count", "count", "count"}
	program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "bench", Generation: 1}, Spec: v1alpha1.PartnerProgramSpec{Owner: "bench@example.com"}}
	for i, m := range benchMetrics {
		program.Spec.Metrics = append(program.Spec.Metrics, v1alpha1.MetricDefinition{Name: m, Class: classes[i], Unit: units[i],
			FreshnessWindow: metav1.Duration{Duration: 90 * 24 * time.Hour}, TrustedReporters: trusted})
	}
	at := func(m, op, v string) v1alpha1.TierRequirement {
		return v1alpha1.TierRequirement{Metric: m, Operator: v1alpha1.ComparisonOperator(op), Threshold: v1alpha1.Decimal(v)}
	}
	ge, le := "GreaterThanOrEqual", "LessThanOrEqual"
	reqs := [][]v1alpha1.TierRequirement{
		nil,
		{at("revenue", ge, "100000"), at("certified", ge, "2")},
		{at("revenue", ge, "500000"), at("csat", ge, "4.2"), at("escalations", le, "3"), at("certified", ge, "5")},
		{at("revenue", ge, "2000000"), at("influenced", ge, "5000000"), at("csat", ge, "4.5"), at("escalations", le, "1"), at("certified", ge, "10")},
	}
	var tiers []v1alpha1.PartnerTier
	for rank, name := range benchTiers {
		ent := v1alpha1.Entitlements{Resell: true}
		if rank > 0 {
			ent.Implement, ent.List = true, true
		}
		tiers = append(tiers, v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1}, Spec: v1alpha1.PartnerTierSpec{
			Program: "bench", Rank: int32(rank), Requirements: reqs[rank], Entitlements: ent,
			DemotionGracePeriod: &metav1.Duration{Duration: 0},
		}})
	}
	return program, tiers
}

// decidedPartner is bench partner i as the API server serves it after the
// bench's evidence wave and the manager's decision: metadata with managed
// fields, six sealed evidence entries, the status tier.Evaluate and
// lifecycle.Apply compute (conditions, entitlements, a sealed decision).
func decidedPartner(t testing.TB, keys *seal.Keys, program *v1alpha1.PartnerProgram, tiers []v1alpha1.PartnerTier, i int) []byte {
	t.Helper()
	created := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	now := created.Add(time.Hour)
	uid := types.UID(fmt.Sprintf("%08x-7d2c-4c1e-9b8a-%012x", i*2654435761%(1<<32), i))
	p := &v1alpha1.Partner{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Partner"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Namespace: "bench", UID: uid,
			ResourceVersion: fmt.Sprint(1000000 + 3*i), Generation: 1, CreationTimestamp: metav1.NewTime(created),
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "bench", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "governance.partnergov.io/v1alpha1", Time: ptrTime(created),
					FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{".":{},"f:owner":{},"f:program":{},"f:type":{}}}`)}},
				{Manager: benchReporter, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "governance.partnergov.io/v1alpha1", Time: ptrTime(now),
					FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:evidence":{"k:{\"metric\":\"revenue\"}":{".":{},"f:metric":{},"f:observedAt":{},"f:value":{}}}}}`)}, Subresource: "status"},
				{Manager: "partnergov-controller", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "governance.partnergov.io/v1alpha1", Time: ptrTime(now),
					FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:conditions":{},"f:entitlements":{},"f:history":{},"f:tier":{}}}`)}, Subresource: "status"},
			}},
		Spec: v1alpha1.PartnerSpec{Program: "bench", Type: v1alpha1.PartnerTypeGSI, Owner: "owner@example.com"},
	}
	rank := i % len(benchTiers)
	values := append(append([]string(nil), benchTierEvidence[rank]...), fmt.Sprint(i))
	for k, m := range benchMetrics {
		via, ok := tier.Trusted(program.Spec.Metrics[k], benchReporter, []string{benchReporterGroup})
		if !ok {
			t.Fatalf("the bench reporter is not trusted for %s", m)
		}
		e := v1alpha1.EvidenceEntry{Metric: m, Value: v1alpha1.Decimal(values[k]), ObservedAt: metav1.NewTime(now.Add(-time.Minute)),
			Source: benchReporter, TrustedVia: via}
		e.Seal = keys.Sign(seal.Evidence(string(uid), e)...)
		p.Status.Evidence = append(p.Status.Evidence, e)
	}
	// Two reconciles: the first decides the tier, the second finds nothing to change.
	for step := range 2 {
		in := tier.Input{Now: now.Add(time.Duration(step) * time.Second), Program: program, Tiers: tiers, Partner: p, Seals: keys}
		res := tier.Evaluate(in)
		lifecycle.Apply(lifecycle.Input{Now: in.Now, Partner: p, Program: program, Evidence: tier.Current(in)}, &res.Status)
		p.Status = res.Status
	}
	if p.Status.Tier != benchTiers[rank] || len(p.Status.History) == 0 || len(p.Status.Conditions) < 4 {
		t.Fatalf("partner %d: tier %q, %d decisions, %d conditions: the fixture is not a decided bench partner", i, p.Status.Tier, len(p.Status.History), len(p.Status.Conditions))
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptrTime(t time.Time) *metav1.Time { mt := metav1.NewTime(t); return &mt }

// benchKeys is a fixed seal key, so the fixture is the same every run.
func benchKeys(t testing.TB) *seal.Keys {
	k, err := seal.New(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// informerDecoder decodes objects as the manager's informers do: the scheme's
// JSON serializer (sigs.k8s.io/json underneath).
func informerDecoder(t testing.TB) apiruntime.Decoder {
	s := apiruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}

// BenchmarkCachedPartnerHeap decodes 10,000 decided bench partners the way
// the informer does, runs the cache's transform on each, keeps them all, and
// reports the live heap each one costs (bytes/partner).
//
//	go test ./internal/app/ -run '^$' -bench CachedPartnerHeap -benchtime 1x
func BenchmarkCachedPartnerHeap(b *testing.B) {
	const n = 10000
	program, tiers := benchProgram()
	keys := benchKeys(b)
	dec := informerDecoder(b)
	raw := make([][]byte, n)
	for i := range raw {
		raw[i] = decidedPartner(b, keys, program, tiers, i)
	}
	b.ResetTimer()
	for b.Loop() {
		kept := make([]any, n)
		runtime.GC()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i, data := range raw {
			obj, _, err := dec.Decode(data, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			if kept[i], err = trimForCache(obj); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "bytes/partner")
		runtime.KeepAlive(kept)
	}
}
