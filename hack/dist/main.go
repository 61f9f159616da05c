// Command dist builds the release archives of the kubectl plugin (`make dist`):
// for each GOOS/GOARCH, kubectl-partnergov (CGO_ENABLED=0, -trimpath, the
// version stamped) and LICENSE in kubectl-partnergov_<version>_<os>_<arch>.tar.gz,
// then their sha256 sums, and the krew manifest rendered from
// plugins/partnergov.yaml.tmpl with the version and one platform per archive.
// The archives are reproducible: entries in a fixed order, owned by root,
// stamped with -mtime, gzip without a name or time.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	k8sversion "k8s.io/apimachinery/pkg/util/version"
)

// binary is the plugin's executable: kubectl finds kubectl-partnergov on the PATH as `kubectl partnergov`.
const binary = "kubectl-partnergov"

// Platform is one archive the manifest template ranges over.
type Platform struct {
	OS, Arch string
	// Archive is the archive's file name; SHA256 its sum, in hex.
	Archive, SHA256 string
}

// ArchiveName is the file name of the archive of version for os/arch.
func ArchiveName(version, goos, goarch string) string {
	return fmt.Sprintf("%s_%s_%s_%s.tar.gz", binary, version, goos, goarch)
}

func main() {
	version := flag.String("version", "", "the release version, a semantic version such as v0.3.0 (krew requires one)")
	platforms := flag.String("platforms", "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64", "the GOOS/GOARCH pairs to build, separated by spaces")
	out := flag.String("out", "bin/dist", "the directory the archives, the sums and the manifest are written to")
	tmpl := flag.String("template", "plugins/partnergov.yaml.tmpl", "the krew manifest template")
	license := flag.String("license", "LICENSE", "the license file each archive holds")
	mtime := flag.Int64("mtime", 0, "the modification time of the archives' entries, in seconds since 1970 (make dist: the last commit's)")
	flag.Parse()
	if err := run(*version, strings.Fields(*platforms), *out, *tmpl, *license, time.Unix(*mtime, 0)); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run(version string, platforms []string, out, tmplPath, license string, mtime time.Time) error {
	// krew's rule: a leading v, then a semantic version.
	if _, err := k8sversion.ParseSemantic(version); err != nil || !strings.HasPrefix(version, "v") {
		return fmt.Errorf("-version %q is not a semantic version such as v0.3.0 or v0.0.0-995a0e2 (krew requires one); set VERSION=vX.Y.Z", version)
	}
	if len(platforms) == 0 {
		return fmt.Errorf("no platform to build: give -platforms such as linux/amd64")
	}
	tmpl, err := template.New(filepath.Base(tmplPath)).Option("missingkey=error").ParseFiles(tmplPath)
	if err != nil {
		return err
	}
	licenseText, err := os.ReadFile(license)
	if err != nil {
		return fmt.Errorf("each archive holds the license: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	build, err := os.MkdirTemp("", "partnergov-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(build)

	var built []Platform
	var sums strings.Builder
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok || goos == "" || goarch == "" {
			return fmt.Errorf("platform %q is not GOOS/GOARCH, such as linux/amd64", p)
		}
		bin := filepath.Join(build, goos+"_"+goarch, binary)
		fmt.Printf("building %s for %s/%s\n", binary, goos, goarch)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./cmd/kubectl-partnergov")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building for %s: %w", p, err)
		}
		exe, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		archive, err := tarGz(mtime, entry{binary, 0o755, exe}, entry{"LICENSE", 0o644, licenseText})
		if err != nil {
			return err
		}
		name := ArchiveName(version, goos, goarch)
		if err := os.WriteFile(filepath.Join(out, name), archive, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(archive)
		built = append(built, Platform{OS: goos, Arch: goarch, Archive: name, SHA256: hex.EncodeToString(sum[:])})
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		fmt.Printf("wrote %s\n", filepath.Join(out, name))
	}
	sumsFile := filepath.Join(out, fmt.Sprintf("%s_%s_sha256sums.txt", binary, version))
	if err := os.WriteFile(sumsFile, []byte(sums.String()), 0o644); err != nil {
		return err
	}
	var manifest bytes.Buffer
	if err := tmpl.Execute(&manifest, struct {
		Version   string
		Platforms []Platform
	}{version, built}); err != nil {
		return err
	}
	manifestFile := filepath.Join(out, "partnergov.yaml")
	if err := os.WriteFile(manifestFile, manifest.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and the krew manifest %s\n", sumsFile, manifestFile)
	return nil
}

type entry struct {
	name string
	mode int64
	data []byte
}

// tarGz is a reproducible .tar.gz of the entries, in their order.
func tarGz(mtime time.Time, entries ...entry) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), ModTime: mtime.UTC(),
			Typeflag: tar.TypeReg, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, bytes.NewReader(e.data)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
