package main

import "testing"

func TestResultsDir(t *testing.T) {
	for name, tc := range map[string]struct{ out, want string }{
		"a relative -out is under the repository": {"bench/results", "/repo/bench/results"},
		"an absolute -out is honoured as it is":   {"/tmp/bench", "/tmp/bench"},
		"a relative -out is cleaned":              {"./x/../y", "/repo/y"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := resultsDir("/repo", tc.out); got != tc.want {
				t.Errorf("resultsDir(%q) = %q, want %q", tc.out, got, tc.want)
			}
		})
	}
}
