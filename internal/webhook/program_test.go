package webhook

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// TestRecordRetentionHasAFloor: a program may not keep its decisions for less
// than the manager's minimum (one year by default), so a program editor cannot
// shorten retention to delete decided requests and their records early. A
// program stored below the floor before the rule can still be edited as long
// as its retention is left as it is.
func TestRecordRetentionHasAFloor(t *testing.T) {
	program := func(retention string) *v1alpha1.PartnerProgram {
		p := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "global"}}
		if retention != "" {
			d, err := time.ParseDuration(retention)
			if err != nil {
				t.Fatal(err)
			}
			p.Spec.RecordRetention = &metav1.Duration{Duration: d}
		}
		return p
	}
	for name, tc := range map[string]struct {
		min       time.Duration
		old, next string // old "" with create: a create
		create    bool
		refused   bool
	}{
		"a create below one year is refused":                        {create: true, next: "1s", refused: true},
		"a create at one year is admitted":                          {create: true, next: "8760h"},
		"a create with the default (none set) is admitted":          {create: true},
		"a lower floor set by the operator admits less":             {create: true, min: time.Hour, next: "2h"},
		"lowering an admitted retention below the floor is refused": {old: "61320h", next: "1s", refused: true},
		"a program stored below the floor keeps its retention":      {old: "1s", next: "1s"},
		"a program stored below the floor cannot go lower":          {old: "2s", next: "1s", refused: true},
	} {
		t.Run(name, func(t *testing.T) {
			min := tc.min
			if min == 0 {
				min = v1alpha1.MinRecordRetention
			}
			v := &ProgramValidator{MinRetention: min}
			var err error
			if tc.create {
				_, err = v.ValidateCreate(context.Background(), program(tc.next))
			} else {
				errs := v.retentionFloor(program(tc.next), program(tc.old))
				err = errs.ToAggregate()
			}
			if tc.refused != (err != nil) {
				t.Fatalf("error %v, want refused %v", err, tc.refused)
			}
			if err != nil && !strings.Contains(err.Error(), "spec.recordRetention") {
				t.Errorf("error %q does not name spec.recordRetention", err)
			}
		})
	}
}
