// Package layout checks that the repository's layout shows what ships:
// internal/ holds only what the manager, the records server and the kubectl
// plugin run, and the test machinery lives under test/.
package layout

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/partnergov/partnergov/test/testenv"
)

const module = "github.com/partnergov/partnergov"

// goList runs `go list` in the repository root and returns one package per line.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

func TestInternalHoldsOnlyWhatTheManagerAndThePluginRun(t *testing.T) {
	shipped := map[string]bool{}
	for _, p := range goList(t, "-deps", module, module+"/cmd/kubectl-partnergov", module+"/cmd/records-server") {
		shipped[p] = true
	}
	internal := goList(t, module+"/internal/...")
	if len(internal) == 0 {
		t.Fatal("go list found no package under internal/")
	}
	for _, p := range internal {
		if !shipped[p] {
			t.Errorf("%s is under internal/ but neither the manager, the records server nor the plugin imports it: test machinery belongs under test/", p)
		}
	}
	for p := range shipped {
		if strings.HasPrefix(p, module+"/test/") || strings.HasPrefix(p, module+"/hack/") {
			t.Errorf("the manager, the records server or the plugin imports %s, which is test or build machinery", p)
		}
	}
}
