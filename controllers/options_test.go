package controllers

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// TestRecordRetryBackoffIsCapped: a controller that creates records retries a
// failed reconcile (the records store down) after at most RecordRetryMaxDelay,
// however many times it failed, so records catch up within that delay once the
// store is back (controller-runtime's default backoff reaches 1000 s).
func TestRecordRetryBackoffIsCapped(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  time.Duration
		want time.Duration
	}{
		{"default", 0, DefaultRecordRetryMaxDelay},
		{"flag", 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limiter := Options{MaxConcurrentReconciles: 8, RecordRetryMaxDelay: tc.max}.recorder().RateLimiter
			if limiter == nil {
				t.Fatal("no rate limiter: controller-runtime's default backs off up to 1000 s")
			}
			req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "acme", Name: "p"}}
			var last time.Duration
			for range 40 { // 5 ms doubled 40 times is far past any cap
				last = limiter.When(req)
			}
			if last > tc.want {
				t.Errorf("delay after 40 failures = %s, want at most %s", last, tc.want)
			}
			if last < tc.want/2 {
				t.Errorf("delay after 40 failures = %s, want it to back off to about %s", last, tc.want)
			}
			limiter.Forget(req)
			if d := limiter.When(req); d > time.Second {
				t.Errorf("delay after success and a new failure = %s, want the backoff to start again", d)
			}
		})
	}
}

// TestRecordRetriesOfManyObjectsCatchUpWithinMinutes: the retries of a
// recording controller are also bounded per second, so an outage spends a
// bounded share of the API budget; with 10,000 partners waiting the last
// retry still leaves the queue within about 200 s (at 10 a second it would
// wait some 1,000 s, the wait the capped backoff removes).
func TestRecordRetriesOfManyObjectsCatchUpWithinMinutes(t *testing.T) {
	limiter := Options{MaxConcurrentReconciles: 8}.recorder().RateLimiter
	var last time.Duration
	for i := range 10000 {
		last = limiter.When(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "acme", Name: fmt.Sprintf("p%d", i)}})
	}
	if last > 200*time.Second {
		t.Errorf("the 10,000th waiting object retries after %s, want at most 200s", last.Round(time.Second))
	}
	if last < 100*time.Second {
		t.Errorf("the 10,000th waiting object retries after %s: the retries of an outage are not bounded per second", last.Round(time.Second))
	}
}
