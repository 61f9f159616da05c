package chaos_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/partnergov/partnergov/test/chaos"
	"github.com/partnergov/partnergov/test/testenv"
)

// The small versions of `make chaos`: one control plane for the package, each
// scenario in its own namespace with its own managers, the same invariants.

var (
	env *chaos.Env
	ctx = context.Background()
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "partnergov-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env, err = chaos.Setup(ctx, root, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos setup:", err, "(logs in "+dir+")")
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	if code == 0 {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "manager logs kept in", dir)
	}
	os.Exit(code)
}

func check(t *testing.T, r chaos.Result) {
	t.Helper()
	t.Logf("%s (%s): kills %d, decisions lost %d, duplicated %d, evidence lost %d; %v; %.1fs",
		r.Scenario, r.Size, r.Kills, r.DecisionsLost, r.Duplicated, r.EvidenceLost, r.Figures, r.Seconds)
	if !r.Pass {
		t.Fatalf("%s failed: %s", r.Scenario, r.Reason)
	}
}

func logf(t *testing.T) func(string, ...any) {
	return func(format string, args ...any) { t.Logf(format, args...) }
}

func TestTheManagerKilledWhileConvergingLosesAndRepeatsNoDecision(t *testing.T) {
	env.Logf = logf(t)
	r := env.CrashConvergence(ctx, chaos.ConvergeConfig{Partners: 120, Kills: 3,
		KillMin: 100 * time.Millisecond, KillMax: 800 * time.Millisecond, Timeout: 2 * time.Minute})
	check(t, r)
	if r.Kills != 3 {
		t.Fatalf("%d kills, want 3", r.Kills)
	}
}

func TestTheManagerKilledDuringReviewsCommitsFundsOnceAndKeepsEveryGrant(t *testing.T) {
	env.Logf = logf(t)
	r := env.CrashReviews(ctx, chaos.ReviewsConfig{Partners: 4, Requests: 5, Kills: 3,
		KillMin: 500 * time.Millisecond, KillMax: 2 * time.Second, Timeout: 2 * time.Minute})
	check(t, r)
	if r.Kills != 3 {
		t.Fatalf("%d kills, want 3", r.Kills)
	}
}

func TestTheManagerKilledWhileRecordingLosesNoRecordAndRecordsNothingTwice(t *testing.T) {
	env.Logf = logf(t)
	r := env.CrashRecords(ctx, chaos.ReviewsConfig{Partners: 3, Requests: 4, Kills: 3,
		KillMin: 500 * time.Millisecond, KillMax: 2 * time.Second, Timeout: 2 * time.Minute})
	check(t, r)
	if r.Kills != 3 {
		t.Fatalf("%d kills, want 3", r.Kills)
	}
}

func TestTheManagerKilledWhileRegistrationsRaceLeavesOneHolderPerCustomer(t *testing.T) {
	env.Logf = logf(t)
	r := env.CrashDeals(ctx, chaos.DealsConfig{Partners: 4, Customers: 4, Registrations: 16, Kills: 3,
		KillMin: 500 * time.Millisecond, KillMax: 2 * time.Second, Timeout: 2 * time.Minute})
	check(t, r)
	if r.Kills != 3 {
		t.Fatalf("%d kills, want 3", r.Kills)
	}
}

func TestStateForgedWhileTheWebhooksWereAbsentDoesNotCount(t *testing.T) {
	env.Logf = logf(t)
	check(t, env.Forged(ctx, 2*time.Minute))
}

func TestOutcomesForgedAndDecisionsReplayedWhileTheWebhooksWereAbsentDoNotCount(t *testing.T) {
	env.Logf = logf(t)
	check(t, env.ForgedOutcomes(ctx, 2*time.Minute))
}

func TestAFollowerTakesOverWithinTheLeaseAndRepeatsNoDecision(t *testing.T) {
	env.Logf = logf(t)
	check(t, env.Failover(ctx, chaos.FailoverConfig{Partners: 120, Timeout: 2 * time.Minute}))
}

func TestTheManagerRidesOutAnAPIServerRestart(t *testing.T) {
	env.Logf = logf(t)
	check(t, env.APIServerRestart(ctx, chaos.APIServerConfig{Partners: 120, Down: 2 * time.Second, Timeout: 2 * time.Minute}))
}

func TestIntegrationsStormingEvidenceLoseNoWrite(t *testing.T) {
	env.Logf = logf(t)
	r := env.Conflicts(ctx, chaos.ConflictsConfig{Partners: 10, Duration: 5 * time.Second, Writers: 1, Timeout: time.Minute})
	check(t, r)
}

func TestTheRecordsServerKilledAndPostgreSQLRestartedLoseNoRecordAndHoldNoDecision(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// A control plane of its own: API aggregation on, no records CRD.
	dir, err := os.MkdirTemp("", "partnergov-chaos-records-")
	if err != nil {
		t.Fatal(err)
	}
	re, err := chaos.SetupRecords(ctx, root, dir)
	if err != nil {
		t.Fatalf("setup: %v (logs in %s)", err, dir)
	}
	defer func() {
		re.Stop()
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("logs kept in %s", dir)
		}
	}()
	re.Logf = logf(t)
	r := re.RecordsOutage(ctx, chaos.RecordsOutageConfig{Partners: 60, Waves: 2, WaveEvery: 6 * time.Second, KillEvery: 2 * time.Second, Down: time.Second,
		PostgresDown: 2 * time.Second, Budget: time.Minute, HoldTerminating: 10 * time.Second, Timeout: 2 * time.Minute})
	check(t, r)
	if r.Kills < 2 {
		t.Fatalf("the records server was killed %d times, want at least 2", r.Kills)
	}
}
