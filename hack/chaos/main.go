// Command chaos is `make chaos`: on a local control plane it runs the chaos
// scenarios of test/chaos at full size (the manager SIGKILLed at random
// moments during a 5,000-partner convergence, during reviews with funds
// effects and while deal registrations race for customers, a leader failover, a kube-apiserver restart, an evidence write storm,
// the records server killed and PostgreSQL restarted during decisions, on a
// control plane of its own), then the invalid-input corpus and the
// permissions matrix of controllers/, and prints one table (-only picks
// rows). It exits non-zero when a row fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/partnergov/partnergov/test/chaos"
	"github.com/partnergov/partnergov/test/testenv"
)

func main() {
	var (
		partners      = flag.Int("partners", 5000, "partners of the crash-during-convergence scenario")
		convergeKills = flag.Int("converge-kills", 20, "SIGKILLs during convergence")
		reviewKills   = flag.Int("review-kills", 20, "SIGKILLs during reviews")
		recordKills   = flag.Int("record-kills", 20, "SIGKILLs while decisions are recorded")
		dealKills     = flag.Int("deal-kills", 20, "SIGKILLs while deal registrations race")
		dealRegs      = flag.Int("deals", 200, "deal registrations of the racing scenario")
		dealCustomers = flag.Int("deal-customers", 40, "customers the registrations race for")
		reviewers     = flag.Int("review-partners", 40, "partners with requests in the reviews scenario")
		requests      = flag.Int("requests", 5, "requests per partner in the reviews scenario")
		failoverN     = flag.Int("failover-partners", 1000, "partners converging while the leader is killed")
		apiserverN    = flag.Int("apiserver-partners", 1000, "partners converging across the kube-apiserver restart")
		down          = flag.Duration("apiserver-down", 3*time.Second, "how long kube-apiserver stays stopped")
		storm         = flag.Duration("conflicts", 60*time.Second, "how long the integrations write evidence")
		stormN        = flag.Int("conflicts-partners", 20, "partners the integrations write to")
		recordsN      = flag.Int("records-partners", 300, "partners deciding while the records server is killed and PostgreSQL restarted")
		recordsWaves  = flag.Int("records-waves", 4, "evidence waves after the load in the records-outage scenario (PostgreSQL restarts during the first and is held down during the last)")
		recordsWave   = flag.Duration("records-wave-every", 12*time.Second, "how far apart the records-outage scenario's evidence waves are written")
		recordsEvery  = flag.Duration("records-kill-every", 5*time.Second, "how often the records server is SIGKILLed")
		recordsDown   = flag.Duration("records-down", 2*time.Second, "how long the killed records server stays down")
		postgresDown  = flag.Duration("postgres-down", 3*time.Second, "how long PostgreSQL stays down in its restart during a wave")
		recordsBudget = flag.Duration("records-budget", 2*time.Minute, "longest a wave of decisions may take while records are unavailable")
		holdDeletion  = flag.Duration("records-hold", 20*time.Second, "how long a namespace deleted while the records server is down is watched staying Terminating")
		timeout       = flag.Duration("timeout", 20*time.Minute, "longest wait for a scenario to settle")
		skipTests     = flag.Bool("skip-go-tests", false, "do not run the corpus and permissions tests")
		only          = flag.String("only", "", "run only these scenarios (comma-separated: "+strings.Join(scenarioKeys, ", ")+"); no go tests unless go-tests is named")
	)
	flag.Parse()
	selected, err := selectScenarios(*only)
	if err != nil {
		fail(err)
	}
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	start := time.Now()
	root, err := testenv.RepoRoot()
	if err != nil {
		fail(err)
	}
	logf := func(format string, args ...any) {
		fmt.Printf("  %s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	var env *chaos.Env
	scenarios := []struct {
		key string
		run func() chaos.Result
	}{
		{"converge", func() chaos.Result {
			return env.CrashConvergence(ctx, chaos.ConvergeConfig{Partners: *partners, Kills: *convergeKills,
				KillMin: 500 * time.Millisecond, KillMax: 5 * time.Second, Timeout: *timeout})
		}},
		{"reviews", func() chaos.Result {
			return env.CrashReviews(ctx, chaos.ReviewsConfig{Partners: *reviewers, Requests: *requests, Kills: *reviewKills,
				KillMin: 500 * time.Millisecond, KillMax: 3 * time.Second, Timeout: *timeout})
		}},
		{"records", func() chaos.Result {
			return env.CrashRecords(ctx, chaos.ReviewsConfig{Partners: *reviewers / 2, Requests: *requests, Kills: *recordKills,
				KillMin: 500 * time.Millisecond, KillMax: 3 * time.Second, Timeout: *timeout})
		}},
		{"deals", func() chaos.Result {
			return env.CrashDeals(ctx, chaos.DealsConfig{Partners: 20, Customers: *dealCustomers, Registrations: *dealRegs, Kills: *dealKills,
				KillMin: 500 * time.Millisecond, KillMax: 3 * time.Second, Timeout: *timeout})
		}},
		{"forged", func() chaos.Result { return env.Forged(ctx, *timeout) }},
		{"forged-outcomes", func() chaos.Result { return env.ForgedOutcomes(ctx, *timeout) }},
		{"failover", func() chaos.Result {
			return env.Failover(ctx, chaos.FailoverConfig{Partners: *failoverN, KillAfter: time.Second, Timeout: *timeout})
		}},
		{"apiserver", func() chaos.Result {
			return env.APIServerRestart(ctx, chaos.APIServerConfig{Partners: *apiserverN, Down: *down, Timeout: *timeout})
		}},
		{"conflicts", func() chaos.Result {
			return env.Conflicts(ctx, chaos.ConflictsConfig{Partners: *stormN, Duration: *storm, Writers: 2, Timeout: *timeout})
		}},
	}
	var rows []chaos.Result
	for _, s := range scenarios {
		if !selected[s.key] || ctx.Err() != nil {
			continue
		}
		if env == nil {
			fmt.Println("building the manager and starting a control plane ...")
			if env, err = chaos.Setup(ctx, root, chaos.Dir(root, stamp)); err != nil {
				fail(err)
			}
			env.Logf = logf
		}
		r := s.run()
		fmt.Printf("%s: %s\n", r.Scenario, verdict(r))
		rows = append(rows, r)
	}
	if env != nil {
		env.Stop()
	}
	// The records server's row needs a control plane of its own (API
	// aggregation on, no records CRD), started once the other one is gone.
	if selected["records-outage"] && ctx.Err() == nil {
		fmt.Println("building the manager and the records server, starting PostgreSQL and a control plane for the records server ...")
		renv, err := chaos.SetupRecords(ctx, root, chaos.Dir(root, stamp+"-records"))
		if err != nil {
			fail(err)
		}
		renv.Logf = logf
		r := renv.RecordsOutage(ctx, chaos.RecordsOutageConfig{Partners: *recordsN, Waves: *recordsWaves, WaveEvery: *recordsWave, KillEvery: *recordsEvery,
			Down: *recordsDown, PostgresDown: *postgresDown, Budget: *recordsBudget, HoldTerminating: *holdDeletion, Timeout: *timeout})
		renv.Stop()
		fmt.Printf("%s: %s\n", r.Scenario, verdict(r))
		rows = append(rows, r)
	}
	if !*skipTests && selected["go-tests"] && ctx.Err() == nil {
		rows = append(rows, goTests(ctx, root)...)
	}
	fmt.Println()
	printTable(os.Stdout, rows)
	fmt.Printf("\nwall time %s\n", time.Since(start).Round(time.Second))
	for _, r := range rows {
		if !r.Pass {
			os.Exit(1)
		}
	}
}

// scenarioKeys name the rows for -only, in the table's order ("go-tests" the
// corpus and the permissions matrix).
var scenarioKeys = []string{"converge", "reviews", "records", "deals", "forged", "forged-outcomes", "failover", "apiserver", "conflicts", "records-outage", "go-tests"}

// selectScenarios reads -only: every scenario when it is empty, else the ones it names.
func selectScenarios(only string) (map[string]bool, error) {
	selected := map[string]bool{}
	for _, k := range scenarioKeys {
		selected[k] = only == ""
	}
	if only == "" {
		return selected, nil
	}
	for _, k := range strings.Split(only, ",") {
		k = strings.TrimSpace(k)
		if _, ok := selected[k]; !ok {
			return nil, fmt.Errorf("-only %s: no scenario %q (the scenarios: %s)", only, k, strings.Join(scenarioKeys, ", "))
		}
		selected[k] = true
	}
	return selected, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chaos:", err)
	os.Exit(1)
}

func verdict(r chaos.Result) string {
	if r.Pass {
		return "pass"
	}
	return "FAIL: " + r.Reason
}

// goTests runs the invalid-input corpus and the permissions matrix and turns
// their summary lines into rows.
func goTests(ctx context.Context, root string) []chaos.Result {
	fmt.Println("running go test ./controllers -run 'TestCorpus|TestPermissions' ...")
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "test", "./controllers", "-run", "TestCorpus|TestPermissions", "-count=1", "-v")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	_ = os.WriteFile(chaos.Dir(root, "go-test.log"), out.Bytes(), 0o644)
	return parseGoTests(out.Bytes(), time.Since(start).Seconds(), runErr)
}

// parseGoTests reads the summary lines of TestCorpus and TestPermissionsMatrix.
func parseGoTests(out []byte, secs float64, runErr error) []chaos.Result {
	corpus := chaos.Result{Scenario: "invalid inputs rejected with the right message", Size: "TestCorpus", Seconds: secs}
	perms := chaos.Result{Scenario: "permission cells matching", Size: "TestPermissionsMatrix", Seconds: secs}
	corpusLine := regexp.MustCompile(`invalid inputs rejected with the right message: (\d+) of (\d+)`)
	// TestPermissionsMatrix logs the matrix it saw; a cell that differs from the
	// expected one reads "<got> (want <expected>)".
	cell := regexp.MustCompile(`\b(Allowed|Denied)\b`)
	wrong := regexp.MustCompile(`\(want (Allowed|Denied)\)`)
	inMatrix, header := false, false
	cells, mismatches := 0, 0
	var status = map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(out))
	for s.Scan() {
		line := s.Text()
		if m := corpusLine.FindStringSubmatch(line); m != nil {
			corpus.Figures = []string{m[1] + " of " + m[2]}
			corpus.Pass = m[1] == m[2]
		}
		switch {
		case strings.Contains(line, "permissions matrix (namespace"):
			inMatrix, header, cells, mismatches = true, true, 0, 0
		case inMatrix && strings.Contains(line, "admission refusals:"):
			inMatrix = false
			perms.Figures = []string{fmt.Sprintf("%d of %d", cells-mismatches, cells)}
			perms.Pass = cells > 0 && mismatches == 0
		case inMatrix && header:
			header = false
		case inMatrix:
			w := len(wrong.FindAllString(line, -1))
			cells += len(cell.FindAllString(line, -1)) - w
			mismatches += w
		}
		if f := strings.Fields(line); len(f) >= 3 && (f[0] == "---" || f[0] == "ok" || f[0] == "FAIL") {
			status[f[2]] = f[1]
		}
	}
	for _, r := range []*chaos.Result{&corpus, &perms} {
		switch {
		case len(r.Figures) == 0:
			r.Pass, r.Reason = false, "no summary line in the test output"
		case !r.Pass:
			r.Reason = "not all " + r.Figures[0]
		}
		if s := status[r.Size]; s != "" && s != "PASS:" {
			r.Pass = false
			if r.Reason == "" {
				r.Reason = r.Size + " " + strings.TrimSuffix(s, ":")
			}
		}
	}
	if runErr != nil {
		for _, r := range []*chaos.Result{&corpus, &perms} {
			if r.Pass {
				continue
			}
			if r.Reason == "" {
				r.Reason = fmt.Sprintf("go test: %v", runErr)
			}
		}
	}
	return []chaos.Result{corpus, perms}
}

func printTable(w io.Writer, rows []chaos.Result) {
	fmt.Fprintln(w, "| Scenario | Size | Kills survived | Decisions lost | Duplicated effects | Evidence writes lost | Figures | Time | Result |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		result := "pass"
		if !r.Pass {
			result = "**FAIL**: " + r.Reason
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %s | %.0fs | %s |\n", r.Scenario, r.Size, r.Kills, r.DecisionsLost,
			r.Duplicated, r.EvidenceLost, strings.Join(r.Figures, "; "), r.Seconds, result)
	}
}
