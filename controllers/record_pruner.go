package controllers

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
)

// RecordPruner deletes DecisionRecords whose retention has passed, every
// Interval, on the leader. Records are not cached (they accumulate for years):
// it pages through them with the API reader.
type RecordPruner struct {
	Client    client.Client
	APIReader client.Reader
	Clock     clock.PassiveClock
	Interval  time.Duration
	// StorePrunes reports whether the records store prunes its own records:
	// the records server (store postgres) offers no delete verb and deletes
	// what is past retention itself, so the pruner then does nothing. Nil:
	// the pruner always prunes (the CRD store).
	StorePrunes func(ctx context.Context) (bool, error)
}

// pruneBatch is the page size of a pruning pass.
const pruneBatch = 500

// NeedLeaderElection makes the pruner run on the leader only.
func (p *RecordPruner) NeedLeaderElection() bool { return true }

// Start prunes at once and then every Interval until ctx ends.
func (p *RecordPruner) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("record-pruner")
	idle := false
	for {
		self, err := p.storePrunes(ctx)
		switch {
		case err != nil:
			log.Error(err, "finding out whether the records store prunes its own records")
		case self:
			if !idle {
				log.Info("the records store offers no delete and prunes its own records past their retention: the manager prunes none")
			}
			idle = true
		default:
			idle = false
			p.pass(ctx, log)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.Interval):
		}
	}
}

func (p *RecordPruner) storePrunes(ctx context.Context) (bool, error) {
	if p.StorePrunes == nil {
		return false, nil
	}
	return p.StorePrunes(ctx)
}

// pass prunes once and logs what it did.
func (p *RecordPruner) pass(ctx context.Context, log logr.Logger) {
	if n, err := p.Prune(ctx); err != nil {
		log.Error(err, "pruning decision records", "pruned", n)
	} else if n > 0 {
		log.Info("pruned decision records past their retention", "pruned", n)
	}
}

// Prune deletes the records past their retention and returns how many it
// deleted. A chain is pruned oldest first (record.Prunable): a first pass over
// every record notes, per chain, the oldest record still within its retention
// (one number per partner), and the second deletes the records past their
// retention before it.
func (p *RecordPruner) Prune(ctx context.Context) (int, error) {
	now := p.Clock.Now()
	floor := map[record.ChainKey]int64{}
	if err := p.each(ctx, func(records []recordsv1alpha1.DecisionRecord) error {
		record.Retained(floor, records, now)
		return nil
	}); err != nil {
		return 0, err
	}
	pruned := 0
	err := p.each(ctx, func(records []recordsv1alpha1.DecisionRecord) error {
		for _, r := range record.Prunable(records, floor, now) {
			if err := p.Client.Delete(ctx, r); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			pruned++
		}
		return nil
	})
	return pruned, err
}

// each pages through every record.
func (p *RecordPruner) each(ctx context.Context, page func([]recordsv1alpha1.DecisionRecord) error) error {
	for cont := ""; ; {
		var list recordsv1alpha1.DecisionRecordList
		if err := p.APIReader.List(ctx, &list, client.Limit(pruneBatch), client.Continue(cont)); err != nil {
			return err
		}
		if err := page(list.Items); err != nil {
			return err
		}
		if cont = list.Continue; cont == "" {
			return nil
		}
	}
}
