package tour

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/test/samples"
	"github.com/partnergov/partnergov/test/testenv"
)

// TestReadmeTour runs every command of the README's tour, with bash, against
// the cluster `make run` sets up (a control plane, the manager, config/samples
// and the sample evidence; test/samples), with KUBECONFIG set to a
// cluster-admin's and kubectl from bin/k8s first on the PATH, as the Quick
// start's commands set them. A command fails the test when it exits non-zero,
// unless the README shows the error it prints; where the README shows output,
// the command is repeated until that output appears (the manager settles in its
// own time), each shown line matching a line of the output in order ("..." for
// any text).
func TestReadmeTour(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := Steps(readme, Heading)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if len(steps) < 5 {
		t.Fatalf("README.md: the tour under %q has %d commands; is it still there?", Heading, len(steps))
	}
	kubectl := filepath.Join(root, "bin", "k8s", "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("%v: run `make controlplane` first", err)
	}

	kubeconfig := startMakeRunCluster(t)
	env := append(os.Environ(),
		"KUBECONFIG="+kubeconfig,
		"PATH="+filepath.Dir(kubectl)+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, s := range steps {
		if failure := checkStep(root, env, s, 90*time.Second); failure != "" {
			t.Error(failure) // and go on: report every step that fails, not only the first
		}
	}
}

// checkStep runs a step of the tour and returns why it fails, or "": a
// command the README shows no output for must exit 0; one it shows output for
// is repeated until each shown line appears (on stderr if the command exits
// non-zero: the README shows the error it prints), for at most timeout.
func checkStep(dir string, env []string, s Step, timeout time.Duration) string {
	if len(s.Want) == 0 {
		stdout, stderr, err := run(dir, env, s.Command)
		if err != nil {
			return fmt.Sprintf("README.md:%d: the tour's command failed (exit %s):\n%s\nstdout:\n%sstderr:\n%s", s.Line, errString(err), s.Command, stdout, stderr)
		}
		return ""
	}
	var failure string
	g := NewGomega(func(message string, _ ...int) { failure = message })
	var last string
	g.Eventually(func() []string {
		stdout, stderr, err := run(dir, env, s.Command)
		last = "exit: " + errString(err) + "\nstdout:\n" + stdout + "stderr:\n" + stderr
		if err != nil {
			return Missing(s.Want, stderr)
		}
		return Missing(s.Want, stdout+stderr)
	}).WithTimeout(timeout).WithPolling(2*time.Second).Should(BeEmpty(),
		func() string {
			return "README.md:" + strconv.Itoa(s.Line) + ": the tour's command\n" + s.Command +
				"\ndoes not print the lines the README shows (the missing ones below); its last run:\n" + last
		})
	return failure
}

// startMakeRunCluster sets up what `make run` does and returns a
// cluster-admin kubeconfig for it.
func startMakeRunCluster(t *testing.T) string {
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig, err := samples.WriteAdminKubeconfig(env, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.ManagerConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := app.NewManager(cfg, env.ManagerOptions())
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	t.Cleanup(func() { // before the control plane stops
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if err := samples.Load(ctx, env); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

// run runs a command with bash in the repository's root, as a reader would
// after the Quick start, and fails it after a minute.
func run(dir string, env []string, command string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", command)
	cmd.Dir, cmd.Env = dir, env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func errString(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "0"
	case errors.As(err, &ee):
		return strconv.Itoa(ee.ExitCode())
	default:
		return err.Error()
	}
}

func TestStepsReadTheTourOnly(t *testing.T) {
	md := strings.Join([]string{
		"# Title",
		"",
		"```sh",
		"echo before the tour",
		"```",
		"",
		"## The tour",
		"",
		"```sh",
		"kubectl get a            # a comment after the command",
		"# a comment line",
		"",
		"kubectl get b \\",
		"  -n c",
		"```",
		"",
		"Text, and YAML that is not run:",
		"",
		"```yaml",
		"kind: X",
		"```",
		"",
		"### A subsection is still the tour",
		"",
		"```console",
		"$ kubectl get partners",
		"NAME   TIER",
		"acme   advanced",
		"$ kubectl get events          # nothing shown",
		"$ kubectl apply -f - <<'YAML'",
		"kind: Y",
		"$ not a command: inside the here-document",
		"YAML",
		"The Y is invalid: ...",
		"```",
		"",
		"## After the tour",
		"",
		"```sh",
		"echo after the tour",
		"```",
	}, "\n")
	got, err := Steps([]byte(md), "The tour")
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Command: "kubectl get a            # a comment after the command", Line: 10},
		{Command: "kubectl get b \\\n  -n c", Line: 13},
		{Command: "kubectl get partners", Want: []string{"NAME   TIER", "acme   advanced"}, Line: 26},
		{Command: "kubectl get events          # nothing shown", Line: 29},
		{Command: "kubectl apply -f - <<'YAML'\nkind: Y\n$ not a command: inside the here-document\nYAML", Want: []string{"The Y is invalid: ..."}, Line: 30},
	}
	if !slices.EqualFunc(got, want, func(a, b Step) bool {
		return a.Command == b.Command && a.Line == b.Line && slices.Equal(a.Want, b.Want)
	}) {
		t.Errorf("Steps =\n%#v\nwant\n%#v", got, want)
	}
	if _, err := Steps([]byte(md), "No such heading"); err == nil {
		t.Error("Steps found a tour under a heading the README does not have")
	}
}

func TestShownOutputMatches(t *testing.T) {
	output := strings.Join([]string{
		"NAME                  TYPE       TIER         READY",
		"acme-consulting       GSI        advanced     True",
		"northwind-resellers   Reseller   select       True",
		`The PartnerTier "gold" is invalid: spec.requirements: Invalid value: 1: tier "gold" has rank 4 but requires no Outcome metric (the rest)`,
	}, "\n")
	for name, c := range map[string]struct {
		want    []string
		missing []string
	}{
		"columns of another width match": {want: []string{"NAME TYPE TIER READY", "acme-consulting GSI advanced True"}},
		"a line matches only in order": {
			want:    []string{"northwind-resellers Reseller select True", "acme-consulting GSI advanced True"},
			missing: []string{"acme-consulting GSI advanced True"},
		},
		"a changed value does not match": {
			want:    []string{"acme-consulting GSI premier True"},
			missing: []string{"acme-consulting GSI premier True"},
		},
		"a line may go on past what is shown": {want: []string{"acme-consulting GSI"}},
		"a shown word matches a whole word": {
			want:    []string{"acme-consulting GS", "acme-consult"},
			missing: []string{"acme-consulting GS", "acme-consult"},
		},
		"a shown line matches from the start of a line": {
			want:    []string{"GSI advanced True"},
			missing: []string{"GSI advanced True"},
		},
		"... stands for any text": {want: []string{`The PartnerTier "gold" is invalid: spec.requirements: ... requires no Outcome metric ...`}},
	} {
		if got := Missing(c.want, output); !slices.Equal(got, c.missing) {
			t.Errorf("%s: Missing = %q, want %q", name, got, c.missing)
		}
	}
}

// The rules checkStep applies, with bash and no cluster. Each case must fail
// the way it says (or pass), so a broken rule fails this test.
func TestCheckStep(t *testing.T) {
	dir, env := t.TempDir(), os.Environ()
	for name, c := range map[string]struct {
		step   Step
		failed bool
	}{
		"a command that exits 0 passes":                        {step: Step{Command: "true"}},
		"a command that exits non-zero fails":                  {step: Step{Command: "echo partial; false"}, failed: true},
		"a pipeline fails when any command in it fails":        {step: Step{Command: "false | cat"}, failed: true},
		"shown output that appears passes":                     {step: Step{Command: "printf 'a 1\\nb 2\\n'", Want: []string{"a 1", "b 2"}}},
		"shown output that never appears fails":                {step: Step{Command: "echo a 1", Want: []string{"a 2"}}, failed: true},
		"a shown error that the failing command prints passes": {step: Step{Command: "echo 'error: no' >&2; exit 1", Want: []string{"error: no"}}},
		"a failing command printing the shown lines to stdout fails": {
			step: Step{Command: "echo 'all good'; exit 1", Want: []string{"all good"}}, failed: true,
		},
		"a here-document reaches the command": {step: Step{Command: "cat <<'YAML'\nkind: X\nYAML", Want: []string{"kind: X"}}},
	} {
		failure := checkStep(dir, env, c.step, 3*time.Second)
		if (failure != "") != c.failed {
			t.Errorf("%s: checkStep failed = %v, want %v (%s)", name, failure != "", c.failed, failure)
		}
	}
}
