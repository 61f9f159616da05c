package plugin

import (
	"io"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// none is what the text output shows for an absent value.
const none = "-"

// newTable returns a tabwriter for aligned, space-padded columns; Flush it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// relative says how far t is from now, as "5m ago", "in 3d" or "now".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d > 0:
		return "in " + duration.HumanDuration(d)
	case d < 0:
		return duration.HumanDuration(-d) + " ago"
	default:
		return "now"
	}
}

// age is the time elapsed from t to now, such as "3m" ("0s" for a future t).
func age(t, now time.Time) string {
	if !now.After(t) {
		return "0s"
	}
	return duration.HumanDuration(now.Sub(t))
}

// timestamp prints an instant in UTC with its distance from now, or "-".
func timestamp(t *metav1.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339) + " (" + relative(t.Time, now) + ")"
}

// operatorSymbols are the short forms of the comparison operators.
var operatorSymbols = map[v1alpha1.ComparisonOperator]string{
	v1alpha1.OperatorGreaterThanOrEqual: ">=",
	v1alpha1.OperatorGreaterThan:        ">",
	v1alpha1.OperatorLessThanOrEqual:    "<=",
	v1alpha1.OperatorLessThan:           "<",
	v1alpha1.OperatorEqual:              "==",
}

// requirementText prints a requirement's comparison, such as ">= 100".
func requirementText(op v1alpha1.ComparisonOperator, threshold v1alpha1.Decimal) string {
	sym, ok := operatorSymbols[op]
	if !ok {
		sym = string(op)
	}
	return sym + " " + string(threshold)
}

// orNone returns s, or "-" when s is empty.
func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// yesNo prints a boolean for people.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
