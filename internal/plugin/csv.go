package plugin

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// csvRows reads a CSV file whose first row names its columns, one object per
// row after it (register --csv, evidence import). Rows are numbered as a
// spreadsheet shows them: the header is row 1.
type csvRows struct {
	cr *csv.Reader
	// cols is the column of each cell, "" under an unnamed header cell.
	cols []string
}

// openCSV reads the header row. column maps a header cell to its column
// (false when unknown); columns are the known columns, for the messages. It
// returns the header's mistakes (an unknown column, a column named twice) as
// RowErrors of row 1, and an error when there is no header to read.
func openCSV(r io.Reader, columns []string, column func(string) (string, bool)) (*csvRows, RowErrors, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("the CSV is empty: it needs a header row naming the columns (%s)", strings.Join(columns, ", "))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the CSV header: %w", err)
	}
	t := &csvRows{cr: cr, cols: make([]string, len(header))}
	var errs RowErrors
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // a spreadsheet's byte order mark
		}
		col, ok := column(h)
		switch {
		case strings.TrimSpace(h) == "":
			// An unnamed column: its cells must stay empty.
		case !ok:
			errs = append(errs, RowError{Row: 1, Column: h, Err: fmt.Errorf("unknown column; the columns are %s", strings.Join(columns, ", "))})
		case slices.Contains(t.cols, col):
			errs = append(errs, RowError{Row: 1, Column: h, Err: fmt.Errorf("column %s is named twice", col)})
		default:
			t.cols[i] = col
		}
	}
	return t, errs, nil
}

// has reports whether the header names column col.
func (t *csvRows) has(col string) bool { return slices.Contains(t.cols, col) }

// next reads the next row: its number, its cells by column (nil when the row
// cannot be read), and what is wrong with its shape (a broken quote, a cell
// beyond the header's columns or under an unnamed one). It returns io.EOF
// after the last row.
func (t *csvRows) next() (row int, cells map[string]string, errs RowErrors, err error) {
	record, err := t.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return pe.StartLine, nil, RowErrors{{Row: pe.StartLine, Err: pe.Err}}, nil
		}
		if errors.Is(err, io.EOF) {
			return 0, nil, nil, io.EOF
		}
		return 0, nil, nil, fmt.Errorf("reading the CSV: %w", err)
	}
	row, _ = t.cr.FieldPos(0)
	cells = map[string]string{}
	for i, cell := range record {
		switch {
		case i >= len(t.cols):
			if strings.TrimSpace(cell) != "" {
				errs = append(errs, RowError{Row: row, Err: fmt.Errorf("cell %d is beyond the header's %d columns", i+1, len(t.cols))})
			}
		case t.cols[i] == "":
			if strings.TrimSpace(cell) != "" {
				errs = append(errs, RowError{Row: row, Err: fmt.Errorf("cell %d is under a column without a name", i+1)})
			}
		default:
			cells[t.cols[i]] = cell
		}
	}
	return row, cells, errs, nil
}

// headerKey normalises a header cell: lower case, with runs of spaces,
// underscores and dashes as one dash ("Customer_Domain" is customer-domain).
func headerKey(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.Join(strings.FieldsFunc(h, func(r rune) bool { return r == ' ' || r == '_' || r == '-' }), "-")
}
