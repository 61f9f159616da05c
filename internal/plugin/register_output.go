package plugin

import (
	"errors"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// writeRegistered prints one line per registration admitted (or validated),
// the warnings to errOut, and returns the refusals as an error naming each
// row and column (or flag).
func writeRegistered(w, errOut io.Writer, results []Registered, fromCSV bool, now time.Time) error {
	var refused RowErrors
	var shown []Registered
	undecided := 0
	for _, r := range results {
		where := ""
		if fromCSV {
			where = fmt.Sprintf("row %d (%s): ", r.Row, r.Deal.Name)
		}
		if r.Err != nil { // its warnings are about a registration that does not exist
			refused = append(refused, Refusal(r.Row, r.Err)...)
			continue
		}
		for _, text := range r.Warnings {
			fmt.Fprintf(errOut, "Warning: %s%s\n", where, text)
		}
		shown = append(shown, r)
		if r.Created && !Decided(r.Deal.Status.Phase) {
			undecided++
		}
	}
	if len(shown) > 0 {
		tw := newTable(w)
		row := func(r Registered) string {
			if fromCSV {
				return fmt.Sprintf("%d\t", r.Row)
			}
			return ""
		}
		if fromCSV {
			fmt.Fprint(tw, "ROW\t")
		}
		fmt.Fprintf(tw, "NAMESPACE\tNAME\tPHASE\tREASON\tHOLDER\tPROTECTED UNTIL\n")
		for _, r := range shown {
			d, st := r.Deal, r.Deal.Status
			phase := string(st.Phase)
			switch {
			case !r.Created:
				phase = "Valid (dry run)"
			case phase == "":
				phase = string(v1alpha1.DealSubmitted)
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\n", row(r), d.Namespace, d.Name, phase, orNone(st.Reason), holderText(st.Holder), timestamp(st.ProtectedUntil, now))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if undecided > 0 {
		fmt.Fprintf(w, "%d not decided yet: kubectl partnergov deals --partner P (or explain deal NAME) shows them once the controller has\n", undecided)
	}
	if len(refused) == 0 {
		return nil
	}
	if !fromCSV {
		return refused
	}
	n := 0
	for i, e := range refused {
		if i == 0 || e.Row != refused[i-1].Row {
			n++
		}
	}
	return fmt.Errorf("%d of %d registrations refused:\n%w", n, len(results), refused)
}

// Refusal names the row and the column (or the flag, for row 0) of each field
// the server refused in err; an error that names no field is the row's.
func Refusal(row int, err error) RowErrors {
	var out RowErrors
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil {
		for _, cause := range status.Status().Details.Causes {
			col := ColumnOfField(cause.Field)
			if col == "" {
				continue
			}
			msg := cause.Message
			if msg == "" {
				msg = string(cause.Type)
			}
			out = append(out, RowError{Row: row, Column: col, Err: errors.New(msg)})
		}
	}
	if len(out) == 0 {
		out = append(out, RowError{Row: row, Err: err})
	}
	return out
}
