package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/harness"
	"github.com/partnergov/partnergov/test/testenv"
)

// RecordsResult is the records phase: DecisionRecords created into a store by
// the manager's identity, what each costs the store, and how long
// `kubectl partnergov history` takes to read one partner's long history.
type RecordsResult struct {
	// Store is where the records went: crd (etcd through the CRD).
	Store string
	// Records were created for Partners partners, HistoryRecords of them for
	// the one partner whose history is read.
	Records, Partners, HistoryRecords int
	// Create is each create's round trip, at Workers concurrent creators.
	Create           Latency
	Workers          int
	CreatesPerSecond float64
	// StorageBytesBefore and StorageBytesAfter are etcd's database size
	// (apiserver_storage_size_bytes) around the creates; BytesPerRecord is
	// their difference over Records.
	StorageBytesBefore, StorageBytesAfter, BytesPerRecord float64
	// HistoryFirstPageMs is the first page (HistoryPageSize records) of the
	// partner's records; HistoryAllMs reads all of them page by page
	// (HistoryPages pages).
	HistoryPageSize            int
	HistoryFirstPageMs         float64
	HistoryAllMs               float64
	HistoryPages, HistoryFound int
}

// historyPageSize is the page the records phase reads one partner's history in.
const historyPageSize = 500

// recordSpec is a realistic record: a deal transition (the most frequent kind)
// with a message of typical length.
func recordSpec(i int, partner string, at time.Time) *recordsv1alpha1.DecisionRecord {
	name := fmt.Sprintf("%s-deal-%08d", partner, i)
	return &recordsv1alpha1.DecisionRecord{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			record.LabelPartner: partner, record.LabelType: string(recordsv1alpha1.DecisionDealTransition)}},
		Spec: recordsv1alpha1.DecisionRecordSpec{
			Type:    recordsv1alpha1.DecisionDealTransition,
			Subject: recordsv1alpha1.DecisionSubject{Kind: "DealRegistration", Name: fmt.Sprintf("deal-%08d", i), UID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i)},
			Partner: partner, Program: harness.Program, Time: metav1.NewTime(at), RetainUntil: metav1.NewTime(at.Add(7 * 365 * 24 * time.Hour)),
			Actor:  "system:serviceaccount:partnergov-system:partnergov-controller-manager",
			Reason: "Approved", From: "Pending", To: "Approved",
			Message: "auto-approved: amount 48000 USD is within the program's auto-approval limit of 50000 USD; customer example-" +
				strconv.Itoa(i) + ".com (domain) protected until 2027-03-07T10:00:00Z",
		},
	}
}

// measureRecords creates c.records records in a fresh control plane as the
// manager would, spread over c.recordPartners partners with one partner
// holding c.historyRecords of them, and reads that partner's history.
func measureRecords(ctx context.Context, c config, root string) (*RecordsResult, error) {
	r := &RecordsResult{Store: "crd", Records: c.records, Partners: c.recordPartners, Workers: c.loadWorkers, HistoryPageSize: historyPageSize}
	r.HistoryRecords = min(c.historyRecords, c.records)
	cl, err := harness.Start(ctx, filepath.Join(root, "bin", "bench", "records"))
	if err != nil {
		return r, err
	}
	defer cl.Stop()
	const ns = "bench-records"
	if err := cl.Namespace(ctx, ns); err != nil {
		return r, err
	}
	// The manager's identity and RBAC (the generated ClusterRole): records are
	// created as the manager creates them.
	managerCfg, err := cl.Env.ManagerConfig(ctx)
	if err != nil {
		return r, err
	}
	managerCfg.QPS, managerCfg.Burst = -1, 0
	writer, err := client.New(managerCfg, client.Options{Scheme: cl.Admin.Scheme()})
	if err != nil {
		return r, err
	}
	before := Result{}
	if err := recordStorage(ctx, cl, &before); err != nil {
		return r, err
	}
	r.StorageBytesBefore = before.StorageBytes

	start := time.Now().Add(-time.Duration(c.records) * time.Minute)
	var next atomic.Int64
	var mu sync.Mutex
	rtts := make([]time.Duration, 0, c.records)
	errs := make(chan error, c.loadWorkers)
	var wg sync.WaitGroup
	began := time.Now()
	for range c.loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= c.records {
					return
				}
				partner := harness.PartnerName(i % max(1, c.recordPartners))
				if i < r.HistoryRecords {
					partner = "long-history"
				}
				rec := recordSpec(i, partner, start.Add(time.Duration(i)*time.Minute))
				rec.Namespace = ns
				t := time.Now()
				if err := writer.Create(ctx, rec); err != nil {
					errs <- fmt.Errorf("creating record %d: %w", i, err)
					return
				}
				d := time.Since(t)
				mu.Lock()
				rtts = append(rtts, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return r, err
	}
	r.CreatesPerSecond = float64(c.records) / time.Since(began).Seconds()
	slices.Sort(rtts)
	r.Create = latency(rtts)
	time.Sleep(5 * time.Second) // the API server samples the database size every few seconds
	after := Result{}
	if err := recordStorage(ctx, cl, &after); err != nil {
		return r, err
	}
	r.StorageBytesAfter = after.StorageBytes
	r.BytesPerRecord = (r.StorageBytesAfter - r.StorageBytesBefore) / float64(c.records)

	// One partner's history, read as `kubectl partnergov history` reads it, by
	// a reader with its own credentials.
	reader, err := cl.UserClient(-1, 0, "auditor@example.com")
	if err != nil {
		return r, err
	}
	if err := grantRecordReader(ctx, cl, "auditor@example.com"); err != nil {
		return r, err
	}
	t := time.Now()
	cont := ""
	for {
		var page recordsv1alpha1.DecisionRecordList
		if err := reader.List(ctx, &page, client.InNamespace(ns), client.MatchingLabels{record.LabelPartner: "long-history"},
			client.Limit(historyPageSize), client.Continue(cont)); err != nil {
			return r, fmt.Errorf("reading the history: %w", err)
		}
		r.HistoryPages++
		r.HistoryFound += len(page.Items)
		if r.HistoryPages == 1 {
			r.HistoryFirstPageMs = ms(time.Since(t))
		}
		if cont = page.Continue; cont == "" {
			break
		}
	}
	r.HistoryAllMs = ms(time.Since(t))
	if r.HistoryFound != r.HistoryRecords {
		return r, fmt.Errorf("the history of partner long-history listed %d records, %d were created", r.HistoryFound, r.HistoryRecords)
	}
	return r, nil
}

// grantRecordReader lets user get and list records, as a reviewer or auditor may.
func grantRecordReader(ctx context.Context, cl *harness.Cluster, user string) error {
	objs := []map[string]any{{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": map[string]any{"name": "bench-record-reader"},
		"rules":    []any{map[string]any{"apiGroups": []any{recordsv1alpha1.GroupVersion.Group}, "resources": []any{"decisionrecords"}, "verbs": []any{"get", "list"}}},
	}, {
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": "bench-record-reader"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "bench-record-reader"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
	}}
	us := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		us[i] = &unstructured.Unstructured{Object: o}
	}
	return testenv.Apply(ctx, cl.Admin, "partnergov-bench", us)
}

// Print writes the records phase.
func (r *RecordsResult) Print(w io.Writer) {
	fmt.Fprintln(w, "| store | records | partners | create p50/p99 ms | creates/s | etcd bytes/record | history of one partner | first page ms | whole history ms (pages) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| %s | %d | %d | %.1f / %.1f | %.0f | %.0f | %d | %.0f | %.0f (%d of %d) |\n\n",
		r.Store, r.Records, r.Partners, r.Create.P50ms, r.Create.P99ms, r.CreatesPerSecond, r.BytesPerRecord,
		r.HistoryRecords, r.HistoryFirstPageMs, r.HistoryAllMs, r.HistoryPages, r.HistoryPageSize)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
