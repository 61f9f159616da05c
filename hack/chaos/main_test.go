package main

import (
	"strings"
	"testing"
)

func TestOnlyRunsTheNamedScenarios(t *testing.T) {
	all, err := selectScenarios("")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range scenarioKeys {
		if !all[k] {
			t.Errorf("without -only, %s does not run", k)
		}
	}
	some, err := selectScenarios("records-outage, go-tests")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range scenarioKeys {
		if want := k == "records-outage" || k == "go-tests"; some[k] != want {
			t.Errorf("-only records-outage,go-tests: %s runs %v, want %v", k, some[k], want)
		}
	}
}

func TestOnlyRefusesAnUnknownScenario(t *testing.T) {
	_, err := selectScenarios("records-outage,postgres")
	if err == nil {
		t.Fatal("an unknown scenario was accepted")
	}
	for _, want := range []string{`"postgres"`, "records-outage", "converge"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %s", err, want)
		}
	}
}
