// Package dist checks the plugin's release: `make dist` builds an archive for
// each platform of the krew manifest it renders, and krew installs the plugin
// from them.
package dist

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/partnergov/partnergov/test/testenv"
)

// version is the release version the test builds.
const version = "v0.0.0-disttest"

// manifest is what the test reads of a krew Plugin manifest.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			SHA256 string `json:"sha256"`
			Bin    string `json:"bin"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func tool(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `make krew` first (the test installs the plugin with krew): %v", rel, err)
	}
	return p
}

// archiveFiles reads a .tar.gz: its regular files' names and modes.
func archiveFiles(t *testing.T, data []byte) map[string]os.FileMode {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]os.FileMode{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			t.Errorf("archive entry %s is not a regular file", hdr.Name)
		}
		files[hdr.Name] = hdr.FileInfo().Mode()
	}
}

// TestTheKrewManifestAgreesWithTheArchivesMakeDistBuilds builds the archive
// of the host platform with `make dist`, reads the manifest it renders, checks
// it names that archive with its sha256, files and bin, has krew validate it
// and install the plugin from it, and runs the installed plugin. The other
// platforms are checked by name: `make dist` builds DIST_PLATFORMS, and the
// manifest has one platform per archive built.
func TestTheKrewManifestAgreesWithTheArchivesMakeDistBuilds(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	krew, validate := tool(t, root, "bin/krew"), tool(t, root, "bin/validate-krew-manifest")

	// The platforms make dist builds by default.
	printer := filepath.Join(t.TempDir(), "print.mk")
	if err := os.WriteFile(printer, []byte("print-dist-platforms:\n\t@echo $(DIST_PLATFORMS)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	platforms := strings.Fields(run(t, root, nil, "make", "-s", "--no-print-directory", "-f", "Makefile", "-f", printer, "print-dist-platforms"))
	want := []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"}
	if got := slices.Sorted(slices.Values(platforms)); !slices.Equal(got, want) {
		t.Errorf("make dist builds %v, want %v", platforms, want)
	}
	host := runtime.GOOS + "/" + runtime.GOARCH
	if !slices.Contains(platforms, host) {
		t.Fatalf("make dist does not build for this machine's platform %s", host)
	}

	// make dist for the host platform alone.
	out := t.TempDir()
	run(t, root, nil, "make", "--no-print-directory", "dist", "VERSION="+version, "DIST_DIR="+out, "DIST_PLATFORMS="+host)
	archiveName := "kubectl-partnergov_" + version + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	archive, err := os.ReadFile(filepath.Join(out, archiveName))
	if err != nil {
		t.Fatalf("make dist did not write %s: %v", archiveName, err)
	}
	sum := sha256.Sum256(archive)
	sha := hex.EncodeToString(sum[:])
	sums, err := os.ReadFile(filepath.Join(out, "kubectl-partnergov_"+version+"_sha256sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(sums), sha+"  "+archiveName+"\n"; got != want {
		t.Errorf("sha256 sums %q, want %q", got, want)
	}
	files := archiveFiles(t, archive)
	if diff := cmp.Diff(map[string]os.FileMode{"kubectl-partnergov": 0o755, "LICENSE": 0o644}, files); diff != "" {
		t.Errorf("archive files (-want +got):\n%s", diff)
	}

	// The manifest names that archive, its sum, its files and its bin.
	manifestFile := filepath.Join(out, "partnergov.yaml")
	raw, err := os.ReadFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.UnmarshalStrict(raw, &m); err != nil {
		t.Fatalf("the manifest: %v\n%s", err, raw)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "partnergov" || m.Spec.Version != version {
		t.Errorf("manifest %s %s %s version %s, want a krew Plugin partnergov of version %s", m.APIVersion, m.Kind, m.Metadata.Name, m.Spec.Version, version)
	}
	if m.Spec.Homepage == "" || m.Spec.ShortDescription == "" || m.Spec.Description == "" {
		t.Errorf("the manifest needs a homepage, a short description and a description, as krew-index does")
	}
	if len(m.Spec.Platforms) != 1 {
		t.Fatalf("the manifest has %d platforms, want the one archive built:\n%s", len(m.Spec.Platforms), raw)
	}
	p := m.Spec.Platforms[0]
	if diff := cmp.Diff(map[string]string{"os": runtime.GOOS, "arch": runtime.GOARCH}, p.Selector.MatchLabels); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
	if wantURI := "https://github.com/partnergov/partnergov/releases/download/" + version + "/" + archiveName; p.URI != wantURI {
		t.Errorf("uri %s, want %s", p.URI, wantURI)
	}
	if p.SHA256 != sha {
		t.Errorf("sha256 %s, want the archive's %s", p.SHA256, sha)
	}
	var from []string
	for _, f := range p.Files {
		from = append(from, f.From)
		if f.To != "." {
			t.Errorf("file %s goes to %s, want the plugin's directory (.)", f.From, f.To)
		}
	}
	if got := slices.Sorted(slices.Values(from)); !slices.Equal(got, []string{"LICENSE", "kubectl-partnergov"}) {
		t.Errorf("files %v, want the archive's kubectl-partnergov and LICENSE", from)
	}
	if p.Bin != "kubectl-partnergov" || files[p.Bin]&0o111 == 0 {
		t.Errorf("bin %q, want the archive's executable kubectl-partnergov", p.Bin)
	}

	// krew validates the manifest, installs the plugin from the archive, and it runs.
	run(t, out, nil, validate, "-manifest", manifestFile, "-skip-install")
	krewRoot := t.TempDir()
	run(t, out, []string{"KREW_ROOT=" + krewRoot, "KREW_NO_UPGRADE_CHECK=1"}, krew, "install", "--manifest="+manifestFile, "--archive="+filepath.Join(out, archiveName))
	if got := run(t, out, nil, filepath.Join(krewRoot, "bin", "kubectl-partnergov"), "--version"); got != "kubectl-partnergov version "+version+"\n" {
		t.Errorf("the installed plugin says %q, want its version %s", got, version)
	}

	// The archive is reproducible: built again, it has the same sum.
	again := t.TempDir()
	run(t, root, nil, "make", "--no-print-directory", "dist", "VERSION="+version, "DIST_DIR="+again, "DIST_PLATFORMS="+host)
	if b, err := os.ReadFile(filepath.Join(again, archiveName)); err != nil || sha256.Sum256(b) != sum {
		t.Errorf("the archive built again differs (or is missing: %v)", err)
	}
}
