package controllers

import (
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// DefaultRecordRetryMaxDelay is the longest a recording controller waits
// before it retries a reconcile that failed (the records store down).
const DefaultRecordRetryMaxDelay = 30 * time.Second

// Options tune every controller; the defaults are what `make run` and config/manager use.
type Options struct {
	// MaxConcurrentReconciles per controller.
	MaxConcurrentReconciles int
	// RecordRetryMaxDelay caps the retry backoff of the controllers that
	// create DecisionRecords (tier recorder, exception requests, deal
	// registrations, listings); zero is DefaultRecordRetryMaxDelay.
	// controller-runtime's default backoff doubles up to 1000 s, so records
	// would catch up only up to some 16 minutes after an outage of the records
	// store ended.
	RecordRetryMaxDelay time.Duration
}

func (o Options) controller() controller.Options {
	n := o.MaxConcurrentReconciles
	if n <= 0 {
		n = 1
	}
	return controller.Options{MaxConcurrentReconciles: n}
}

// recorder is controller() for a controller that creates records: its failed
// reconciles (most often the records store not answering) are retried after
// a backoff doubling from 5 ms up to RecordRetryMaxDelay, so that records are
// made at most that long after the store is back, and at most
// recordRetriesPerSecond retries a second (burst recordRetryBurst) leave the
// queue, so that a long outage of the store spends a bounded share of the
// manager's API budget on retries, whatever the number of objects waiting:
// catching up takes about max(RecordRetryMaxDelay, waiting/50 s).
func (o Options) recorder() controller.Options {
	c := o.controller()
	c.RateLimiter = recordRetryLimiter(o.RecordRetryMaxDelay)
	return c
}

// recordRetriesPerSecond and recordRetryBurst bound a recording controller's
// retries. At 10 a second (the first choice), 300 partners waiting took 58 s
// to catch up after the chaos row's outage, and 10,000 would take 1,000 s,
// the wait the capped backoff is there to remove; at 50, 10,000 take 200 s,
// and an outage's retries (one to three API calls each) stay well within the
// manager's --kube-api-qps.
const (
	recordRetriesPerSecond = 50
	recordRetryBurst       = 500
)

func recordRetryLimiter(maxDelay time.Duration) workqueue.TypedRateLimiter[reconcile.Request] {
	if maxDelay <= 0 {
		maxDelay = DefaultRecordRetryMaxDelay
	}
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(recordRetriesPerSecond), recordRetryBurst)},
	)
}
