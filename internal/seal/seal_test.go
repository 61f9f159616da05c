package seal

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var (
	keyA = []byte(strings.Repeat("a", 32))
	keyB = []byte(strings.Repeat("b", 32))
)

func entry() v1alpha1.EvidenceEntry {
	return v1alpha1.EvidenceEntry{Metric: "revenue", Value: "250000", ObservedAt: metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)),
		Source: "system:serviceaccount:crm:sync", TrustedVia: "serviceaccount:crm/sync"}
}

func TestSeals(t *testing.T) {
	a, _ := New(keyA)
	rotated, _ := New(keyB, keyA)
	b, _ := New(keyB)
	sealed := a.Sign(Evidence("uid-1", entry())...)
	changed := entry()
	changed.Value = "2500000"
	tests := map[string]struct {
		keys  *Keys
		seal  string
		parts []string
		want  bool
	}{
		"a seal verifies what it sealed":                {a, sealed, Evidence("uid-1", entry()), true},
		"a changed value does not verify":               {a, sealed, Evidence("uid-1", changed), false},
		"another partner's entry does not verify":       {a, sealed, Evidence("uid-2", entry()), false},
		"no seal does not verify":                       {a, "", Evidence("uid-1", entry()), false},
		"another key does not verify":                   {b, sealed, Evidence("uid-1", entry()), false},
		"a previous key still verifies after rotation":  {rotated, sealed, Evidence("uid-1", entry()), true},
		"sealing off accepts everything":                {nil, "", Evidence("uid-1", entry()), true},
		"parts cannot be shifted between fields":        {a, a.Sign("ab", "c"), []string{"a", "bc"}, false},
		"a decision seal does not verify as a tier one": {a, a.Sign(Decision("u", 0, v1alpha1.ReviewDecision{})...), Tier("u", v1alpha1.TierDecision{}), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.keys.Verify(tc.seal, tc.parts...); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	k, err := Parse([]byte("# current first\n" + string(keyB) + "\n\n" + string(keyA) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := New(keyA)
	if !k.Verify(old.Sign("x"), "x") {
		t.Error("a key listed second does not verify as a previous key")
	}
	if _, err := Parse([]byte("short\n")); err == nil {
		t.Error("a key under 32 bytes was accepted")
	}
	if _, err := Parse([]byte("# nothing\n")); err == nil {
		t.Error("a file without a key was accepted")
	}
}
