package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/harness"
	"github.com/partnergov/partnergov/test/postgres"
	"github.com/partnergov/partnergov/test/recordsserver"
	"github.com/partnergov/partnergov/test/testenv"
)

// RecordsResult is the records phase: DecisionRecords created into a store by
// the manager's identity, what each costs the store, and how long
// `kubectl partnergov history` takes to read one partner's long history.
type RecordsResult struct {
	// Store is where the records went: crd (etcd through the CRD) or
	// postgres (the records server; the bytes are the records database's).
	Store string
	// Records were created for Partners partners, HistoryRecords of them for
	// the one partner whose history is read.
	Records, Partners, HistoryRecords int
	// Create is each create's round trip, at Workers concurrent creators.
	Create           Latency
	Workers          int
	CreatesPerSecond float64
	// StorageBytesBefore and StorageBytesAfter are the store's size around
	// the creates (etcd's database as apiserver_storage_size_bytes reports it,
	// or the records' relations in PostgreSQL with their indexes);
	// BytesPerRecord is their difference over Records.
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

// recordStore is a control plane serving records from one store, and how to
// read what the records take in it.
type recordStore struct {
	env *testenv.Env
	// size is the bytes the store holds (etcd's database, or the records
	// database's relations).
	size func(ctx context.Context) (float64, error)
	stop func()
}

// startRecordStore starts a control plane whose records are in store: crd
// (etcd, through the CRD) or postgres (the records server, in process, on a
// throwaway PostgreSQL).
func startRecordStore(ctx context.Context, store, root string) (*recordStore, error) {
	switch store {
	case "crd":
		cl, err := harness.Start(ctx, filepath.Join(root, "bin", "bench", "records"))
		if err != nil {
			return nil, err
		}
		return &recordStore{env: cl.Env, stop: cl.Stop, size: func(ctx context.Context) (float64, error) {
			var r Result
			err := recordStorage(ctx, cl, &r)
			return r.StorageBytes, err
		}}, nil
	case "postgres":
		var stops []func()
		stop := func() {
			for i := len(stops) - 1; i >= 0; i-- {
				stops[i]()
			}
		}
		pg, err := postgres.Start(ctx)
		if err != nil {
			return nil, err
		}
		stops = append(stops, func() { _ = pg.Stop() })
		dsn, err := pg.CreateDatabase(ctx, "records")
		if err != nil {
			stop()
			return nil, err
		}
		dir, err := os.MkdirTemp("", "partnergov-bench-records-")
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, func() { _ = os.RemoveAll(dir) })
		args, err := testenv.AggregationArgs(dir)
		if err != nil {
			stop()
			return nil, err
		}
		env, err := testenv.StartWith(testenv.StartOptions{APIServerArgs: args, ExcludeCRDs: []string{testenv.RecordsCRD}})
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, func() { _ = env.Stop() })
		rs, err := recordsserver.Start(ctx, env, dsn, dir, recordsserver.Options{})
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, func() { _ = rs.Stop() })
		if err := rs.Register(ctx, env); err != nil {
			stop()
			return nil, err
		}
		return &recordStore{env: env, stop: stop, size: func(ctx context.Context) (float64, error) {
			// Every relation of the records (partitions, their indexes and
			// TOAST, the names table), not the empty database's catalog.
			out, err := pg.Psql(ctx, "records", `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
				FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname LIKE 'decision_record%'`)
			if err != nil {
				return 0, err
			}
			return strconv.ParseFloat(strings.TrimSpace(out), 64)
		}}, nil
	}
	return nil, fmt.Errorf("-records-store %q: crd or postgres", store)
}

// measureRecords creates c.records records in a fresh control plane as the
// manager would, spread over c.recordPartners partners with one partner
// holding c.historyRecords of them, and reads that partner's history.
func measureRecords(ctx context.Context, c config, root, store string) (*RecordsResult, error) {
	r := &RecordsResult{Store: store, Records: c.records, Partners: c.recordPartners, Workers: c.loadWorkers, HistoryPageSize: historyPageSize}
	r.HistoryRecords = min(c.historyRecords, c.records)
	st, err := startRecordStore(ctx, store, root)
	if err != nil {
		return r, err
	}
	defer st.stop()
	admin, err := client.New(harness.Unlimited(st.env.Config), client.Options{Scheme: app.Scheme})
	if err != nil {
		return r, err
	}
	const ns = "bench-records"
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return r, err
	}
	// The manager's identity and RBAC (the generated ClusterRole): records are
	// created as the manager creates them.
	managerCfg, err := st.env.ManagerConfig(ctx)
	if err != nil {
		return r, err
	}
	writer, err := client.New(harness.Unlimited(managerCfg), client.Options{Scheme: app.Scheme})
	if err != nil {
		return r, err
	}
	if r.StorageBytesBefore, err = st.size(ctx); err != nil {
		return r, err
	}

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
	time.Sleep(5 * time.Second) // the API server samples etcd's size every few seconds
	if r.StorageBytesAfter, err = st.size(ctx); err != nil {
		return r, err
	}
	r.BytesPerRecord = (r.StorageBytesAfter - r.StorageBytesBefore) / float64(c.records)

	// One partner's history, read as `kubectl partnergov history` reads it, by
	// a reader with its own credentials.
	if err := grantRecordReader(ctx, admin, "auditor@example.com"); err != nil {
		return r, err
	}
	readerCfg, err := st.env.UserConfig("auditor@example.com")
	if err != nil {
		return r, err
	}
	reader, err := client.New(harness.Unlimited(readerCfg), client.Options{Scheme: app.Scheme})
	if err != nil {
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
func grantRecordReader(ctx context.Context, admin client.Client, user string) error {
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
	return testenv.Apply(ctx, admin, "partnergov-bench", us)
}

// printRecords writes the records phase, a row a store.
func printRecords(w io.Writer, stores []*RecordsResult) {
	fmt.Fprintln(w, "| store | records | partners | create p50/p99 ms | creates/s | store bytes/record | history of one partner | first page ms | whole history ms (pages) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range stores {
		fmt.Fprintf(w, "| %s | %d | %d | %.1f / %.1f | %.0f | %.0f | %d | %.0f | %.0f (%d of %d) |\n",
			r.Store, r.Records, r.Partners, r.Create.P50ms, r.Create.P99ms, r.CreatesPerSecond, r.BytesPerRecord,
			r.HistoryRecords, r.HistoryFirstPageMs, r.HistoryAllMs, r.HistoryPages, r.HistoryPageSize)
	}
	fmt.Fprintln(w)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
