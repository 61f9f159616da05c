// Package docs checks the repository's Markdown: every relative link in the
// README and under docs/ leads to a file that exists and, with a #fragment, to
// a heading of that file, so moving or renaming a section cannot leave a
// dangling link; and the README links every page under docs/.
package docs

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/partnergov/partnergov/test/testenv"
)

// markdown parses as GitHub does for links and headings (tables included).
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// page is what a Markdown file offers and asks: its headings' anchors and its links.
type page struct {
	anchors map[string]bool
	links   []link
}

type link struct {
	dest string
	line int
}

// parse reads a Markdown file's links (inline, reference and images) and the
// anchors GitHub gives its headings.
func parse(path string) (page, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return page{}, err
	}
	doc := markdown.Parser().Parse(text.NewReader(src))
	p := page{anchors: map[string]bool{}}
	seen := map[string]int{}
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			a := githubAnchor(plainText(n, src))
			// GitHub numbers repeated anchors: x, x-1, x-2, ...
			if k := seen[a]; k > 0 {
				seen[a]++
				a = fmt.Sprintf("%s-%d", a, k)
			} else {
				seen[a] = 1
			}
			p.anchors[a] = true
		case *ast.Link:
			p.links = append(p.links, link{dest: string(n.Destination), line: lineOf(n, src)})
		case *ast.Image:
			p.links = append(p.links, link{dest: string(n.Destination), line: lineOf(n, src)})
		}
		return ast.WalkContinue, nil
	})
	return p, err
}

// plainText is a node's text as GitHub renders it: the text of its
// descendants, code spans included, without the Markdown around them.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return strings.TrimSpace(b.String())
}

// githubAnchor is the anchor GitHub gives a heading with this text: lower
// case, each space a dash, every character other than a letter, digit, mark,
// dash or underscore dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lineOf is the line of a link: that of the first text segment inside it, or
// of its enclosing block.
func lineOf(n ast.Node, src []byte) int {
	for c := n; c != nil; c = c.Parent() {
		var start = -1
		if t, ok := c.FirstChild().(*ast.Text); ok {
			start = t.Segment.Start
		} else if c.Type() == ast.TypeBlock && c.Lines().Len() > 0 {
			start = c.Lines().At(0).Start
		}
		if start >= 0 {
			return 1 + strings.Count(string(src[:start]), "\n")
		}
	}
	return 0
}

// brokenLinks checks every relative link of the Markdown files: the file or
// directory it names exists and, for a #fragment into a Markdown file, the
// fragment is one of its headings' anchors. External links (a scheme, or
// //host) are not followed.
func brokenLinks(root string, files []string) ([]string, error) {
	pages := map[string]page{}
	load := func(path string) (page, error) {
		if p, ok := pages[path]; ok {
			return p, nil
		}
		p, err := parse(path)
		if err != nil {
			return page{}, err
		}
		pages[path] = p
		return p, nil
	}
	var broken []string
	for _, f := range files {
		p, err := load(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, f)
		for _, l := range p.links {
			u, err := url.Parse(l.dest)
			if err != nil {
				broken = append(broken, fmt.Sprintf("%s:%d: %q: %v", rel, l.line, l.dest, err))
				continue
			}
			if u.Scheme != "" || u.Host != "" {
				continue
			}
			target := f
			if u.Path != "" {
				if strings.HasPrefix(u.Path, "/") {
					broken = append(broken, fmt.Sprintf("%s:%d: %q is absolute; link relative to the file", rel, l.line, l.dest))
					continue
				}
				target = filepath.Join(filepath.Dir(f), filepath.FromSlash(u.Path))
				info, err := os.Stat(target)
				if err != nil {
					broken = append(broken, fmt.Sprintf("%s:%d: %q: no such file or directory", rel, l.line, l.dest))
					continue
				}
				if info.IsDir() {
					if u.Fragment != "" {
						broken = append(broken, fmt.Sprintf("%s:%d: %q: a directory has no headings", rel, l.line, l.dest))
					}
					continue
				}
			}
			if u.Fragment == "" {
				continue
			}
			if !strings.HasSuffix(target, ".md") {
				broken = append(broken, fmt.Sprintf("%s:%d: %q: a fragment into a file that is not Markdown", rel, l.line, l.dest))
				continue
			}
			tp, err := load(target)
			if err != nil {
				return nil, err
			}
			if !tp.anchors[u.Fragment] {
				broken = append(broken, fmt.Sprintf("%s:%d: %q: %s has no heading with anchor #%s", rel, l.line, l.dest, filepath.Base(target), u.Fragment))
			}
		}
	}
	return broken, nil
}

// readmeAndDocs lists README.md and every Markdown file under docs/.
func readmeAndDocs(t *testing.T) (root string, files []string) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files = []string{filepath.Join(root, "README.md")}
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return root, files
}

func TestEveryMarkdownLinkResolves(t *testing.T) {
	root, files := readmeAndDocs(t)
	if len(files) < 2 {
		t.Fatalf("found only %v: is docs/ missing?", files)
	}
	broken, err := brokenLinks(root, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range broken {
		t.Error(b)
	}
}

// Every rule is at most two clicks from the README: one to its page, which
// the README links, and one to the rule on that page.
func TestTheReadmeLinksEveryDocsPage(t *testing.T) {
	root, files := readmeAndDocs(t)
	readme, err := parse(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var linked []string
	for _, l := range readme.links {
		if u, err := url.Parse(l.dest); err == nil && u.Scheme == "" && u.Host == "" && u.Path != "" {
			linked = append(linked, filepath.Join(root, filepath.FromSlash(u.Path)))
		}
	}
	for _, f := range files[1:] {
		if !slices.Contains(linked, f) {
			rel, _ := filepath.Rel(root, f)
			t.Errorf("README.md does not link %s: add it to the Documentation list", rel)
		}
	}
}

func TestGitHubAnchor(t *testing.T) {
	for name, c := range map[string]struct{ heading, want string }{
		"lower case, spaces to dashes":         {"Quick start", "quick-start"},
		"punctuation dropped":                  {"Install, upgrade and uninstall", "install-upgrade-and-uninstall"},
		"a colon dropped":                      {"Deal registration: rules of engagement", "deal-registration-rules-of-engagement"},
		"dots, slashes and parentheses":        {"The API (governance.partnergov.io/v1alpha1)", "the-api-governancepartnergoviov1alpha1"},
		"dashes and underscores kept":          {"make run-cluster and GO_TEST_FLAGS", "make-run-cluster-and-go_test_flags"},
		"each space a dash, none collapsed":    {"a  b", "a--b"},
		"letters beyond ASCII kept, lowercase": {"Über Größe", "über-größe"},
	} {
		if got := githubAnchor(c.heading); got != c.want {
			t.Errorf("%s: githubAnchor(%q) = %q, want %q", name, c.heading, got, c.want)
		}
	}
}

// The checker itself: each kind of broken link is reported, and what resolves
// (code spans in headings, repeated headings, links inside tables, links in
// code blocks not being links) is not.
func TestBrokenLinksAreReported(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("docs/page.md", "# The API (`group.example.io/v1`)\n\n## Notes\n\n## Notes\n\nsee [up](../README.md#start)\n")
	write("config/samples/x.yaml", "a: 1\n")
	readme := write("README.md", strings.Join([]string{
		"# Start",
		"",
		"- [ok file](docs/page.md)",
		"- [ok anchor](docs/page.md#the-api-groupexampleiov1)",
		"- [ok repeated heading](docs/page.md#notes-1)",
		"- [ok same file](#start)",
		"- [ok directory](config/samples)",
		"- [external](https://example.com/nowhere)",
		"",
		"| a | b |",
		"|---|---|",
		"| [in a table](docs/missing-in-table.md) | x |",
		"",
		"```sh",
		"echo [not a link](nowhere.md)",
		"```",
		"",
		"- [missing file](docs/gone.md)",
		"- [missing anchor](docs/page.md#notes-2)",
		"- [missing anchor here](#nowhere)",
		"- [fragment into YAML](config/samples/x.yaml#a)",
		"- [absolute](/docs/page.md)",
		"",
	}, "\n"))
	got, err := brokenLinks(dir, []string{readme, filepath.Join(dir, "docs", "page.md")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`README.md:12: "docs/missing-in-table.md": no such file or directory`,
		`README.md:18: "docs/gone.md": no such file or directory`,
		`README.md:19: "docs/page.md#notes-2": page.md has no heading with anchor #notes-2`,
		`README.md:20: "#nowhere": README.md has no heading with anchor #nowhere`,
		`README.md:21: "config/samples/x.yaml#a": a fragment into a file that is not Markdown`,
		`README.md:22: "/docs/page.md" is absolute; link relative to the file`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("brokenLinks reported\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
