// Package tour reads the README's tour (the commands under its tour heading)
// so that a test can run every one of them against the cluster `make run`
// sets up, and the README cannot promise what partnergov no longer does.
package tour

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Heading is the README's tour heading.
const Heading = "Walkthrough over the samples"

// Step is one command of the tour and the output the README shows for it.
type Step struct {
	// Command is the command as bash runs it (continuation lines and
	// here-documents included).
	Command string
	// Want is the output the README shows under a console block's `$ `
	// command, one line each; empty for an sh block's commands, and for a
	// console command the README shows no output for.
	Want []string
	// Line is the command's line in the README.
	Line int
}

// Steps reads the fenced code blocks under the level-2 heading named heading,
// up to the next heading of level 2 or less: every command of an ```sh block,
// and every `$ ` command of a ```console block with the lines it shows after it.
func Steps(markdown []byte, heading string) ([]Step, error) {
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(markdown))
	var steps []Step
	in, found := false, false
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if h, ok := n.(*ast.Heading); ok && h.Level <= 2 {
			in = h.Level == 2 && headingText(h, markdown) == heading
			found = found || in
			continue
		}
		block, ok := n.(*ast.FencedCodeBlock)
		if !in || !ok {
			continue
		}
		var lines []string
		for i := 0; i < block.Lines().Len(); i++ {
			seg := block.Lines().At(i)
			lines = append(lines, strings.TrimRight(string(seg.Value(markdown)), "\n"))
		}
		first := 1
		if block.Lines().Len() > 0 {
			first += strings.Count(string(markdown[:block.Lines().At(0).Start]), "\n")
		}
		switch lang := string(block.Language(markdown)); lang {
		case "sh", "bash":
			s, err := shellSteps(lines, first)
			if err != nil {
				return nil, err
			}
			steps = append(steps, s...)
		case "console":
			s, err := consoleSteps(lines, first)
			if err != nil {
				return nil, err
			}
			steps = append(steps, s...)
		}
	}
	if !found {
		return nil, fmt.Errorf("no heading %q", "## "+heading)
	}
	return steps, nil
}

func headingText(h *ast.Heading, src []byte) string {
	var b strings.Builder
	for c := h.FirstChild(); c != nil; c = c.NextSibling() {
		if t, ok := c.(*ast.Text); ok {
			b.Write(t.Segment.Value(src))
		}
	}
	return strings.TrimSpace(b.String())
}

// heredoc finds a here-document's delimiter on a command line: <<WORD,
// <<'WORD', <<"WORD" or <<-WORD.
var heredoc = regexp.MustCompile(`<<(-?)\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)

// command reads one command starting at lines[i]: the line, the lines a
// trailing backslash continues it on, and the body of a here-document it
// opens. It returns the command and the index of the line after it.
func command(lines []string, i int) (string, int, error) {
	start := i
	var cmd []string
	for {
		if i >= len(lines) {
			return "", 0, fmt.Errorf("the command on line %d of its block never ends: %q", start+1, strings.Join(cmd, "\n"))
		}
		line := lines[i]
		cmd = append(cmd, line)
		i++
		if m := heredoc.FindStringSubmatch(line); m != nil {
			for {
				if i >= len(lines) {
					return "", 0, fmt.Errorf("the here-document opened on line %d of its block has no %s line", start+1, m[2])
				}
				body := lines[i]
				cmd = append(cmd, body)
				i++
				if body == m[2] || (m[1] == "-" && strings.TrimLeft(body, "\t") == m[2]) {
					break
				}
			}
			return strings.Join(cmd, "\n"), i, nil
		}
		if !strings.HasSuffix(line, `\`) {
			return strings.Join(cmd, "\n"), i, nil
		}
	}
}

// shellSteps reads an sh block: every command, without blank and comment lines.
func shellSteps(lines []string, first int) ([]Step, error) {
	var steps []Step
	for i := 0; i < len(lines); {
		if t := strings.TrimSpace(lines[i]); t == "" || strings.HasPrefix(t, "#") {
			i++
			continue
		}
		line := first + i
		cmd, next, err := command(lines, i)
		if err != nil {
			return nil, err
		}
		steps = append(steps, Step{Command: cmd, Line: line})
		i = next
	}
	return steps, nil
}

// consoleSteps reads a console block: every `$ ` command and the lines after
// it up to the next one.
func consoleSteps(lines []string, first int) ([]Step, error) {
	var steps []Step
	for i := 0; i < len(lines); {
		if !strings.HasPrefix(lines[i], "$ ") {
			if len(steps) == 0 {
				return nil, fmt.Errorf("line %d: a console block starts with a `$ ` command, not %q", first+i, lines[i])
			}
			if strings.TrimSpace(lines[i]) != "" {
				steps[len(steps)-1].Want = append(steps[len(steps)-1].Want, lines[i])
			}
			i++
			continue
		}
		rest := append([]string{strings.TrimPrefix(lines[i], "$ ")}, lines[i+1:]...)
		cmd, next, err := command(rest, 0)
		if err != nil {
			return nil, err
		}
		steps = append(steps, Step{Command: cmd, Line: first + i})
		i += next
	}
	return steps, nil
}

// Matcher returns a pattern for a line of shown output: "..." stands for any
// text, a run of spaces for any run of blanks (kubectl's columns change width
// with their values), and the line may go on after a blank past what is shown
// (the README leaves out kubectl's AGE column, which changes with every run).
func Matcher(shown string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^\s*`)
	for i, part := range strings.Split(strings.TrimSpace(shown), "...") {
		if i > 0 {
			b.WriteString(`.*`)
		}
		for j, word := range strings.Fields(part) {
			if j > 0 {
				b.WriteString(`\s+`)
			}
			b.WriteString(regexp.QuoteMeta(word))
		}
	}
	b.WriteString(`(\s.*)?$`)
	return regexp.MustCompile(b.String())
}

// Missing returns the shown lines that output lacks: each must match a line of
// output, in the order shown, with other lines of output in between allowed.
func Missing(want []string, output string) []string {
	got := strings.Split(output, "\n")
	var missing []string
	j := 0
	for _, w := range want {
		m := Matcher(w)
		k := j
		for k < len(got) && !m.MatchString(got[k]) {
			k++
		}
		if k == len(got) {
			missing = append(missing, w)
			continue
		}
		j = k + 1
	}
	return missing
}
