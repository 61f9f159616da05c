package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/plugin"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/test/harness"
)

// Recorded is what the check after the load found of the partners' records.
type Recorded struct {
	Partners int `json:"partners"`
	// Records is the number of DecisionRecords of the partners' chains.
	Records int `json:"records"`
	// Unrecorded lists the partners whose newest stored tier decision has no
	// record, Unverified those whose chain does not verify (record.Verify and
	// the head's seal), with the first finding; at most 20 of each.
	Unrecorded []string `json:"unrecorded,omitempty"`
	Unverified []string `json:"unverified,omitempty"`
	// Seconds is how long after the settle every partner was found recorded
	// (or the check gave up).
	Seconds float64 `json:"seconds"`
}

// Complete tells whether every partner's decisions are recorded and verify.
func (r Recorded) Complete() bool { return len(r.Unrecorded) == 0 && len(r.Unverified) == 0 }

// checkRecorded reads, for every partner, its newest tier decision's record
// and verifies its whole chain against the sealed head (plugin.VerifyHistoryWith
// with the manager's seal keys): the records are created oldest first and the
// chain shows any gap, so a partner whose newest decision is recorded and whose
// chain verifies has every decision recorded. It reads again until all pass or
// within runs out (the recorder may still be catching up after the load).
func checkRecorded(ctx context.Context, c client.Client, ns string, partners int, keysFile string, within time.Duration) (Recorded, error) {
	data, err := os.ReadFile(keysFile)
	if err != nil {
		return Recorded{}, err
	}
	keys, err := seal.Parse(data)
	if err != nil {
		return Recorded{}, err
	}
	start := time.Now()
	for {
		r := Recorded{Partners: partners}
		var mu sync.Mutex
		err := harness.Parallel(ctx, partners, 16, func(ctx context.Context, i int) error {
			key := types.NamespacedName{Namespace: ns, Name: harness.PartnerName(i)}
			var p v1alpha1.Partner
			if err := c.Get(ctx, key, &p); err != nil {
				return err
			}
			unrecorded := ""
			if h := p.Status.History; len(h) > 0 {
				var rec recordsv1alpha1.DecisionRecord
				name := record.TierChangeName(&p, h[len(h)-1])
				switch err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &rec); {
				case apierrors.IsNotFound(err):
					unrecorded = fmt.Sprintf("%s: no record %s of its newest tier decision (%s -> %s)", key.Name, name, h[len(h)-1].From, h[len(h)-1].To)
				case err != nil:
					return err
				}
			}
			v, err := plugin.VerifyHistoryWith(ctx, c, key, time.Now(), keys)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			r.Records += v.Chained + len(v.Unchained)
			if unrecorded != "" && len(r.Unrecorded) < 20 {
				r.Unrecorded = append(r.Unrecorded, unrecorded)
			}
			if !v.Verified() && len(r.Unverified) < 20 {
				r.Unverified = append(r.Unverified, fmt.Sprintf("%s: %s", key.Name, v.Findings[0].Message))
			}
			return nil
		})
		r.Seconds = time.Since(start).Seconds()
		if err != nil || r.Complete() || time.Since(start) > within {
			slices.Sort(r.Unrecorded)
			slices.Sort(r.Unverified)
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}
