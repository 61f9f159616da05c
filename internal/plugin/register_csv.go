package plugin

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// RowRegistration is a registration built from one CSV row.
type RowRegistration struct {
	// Row is the row's number as a spreadsheet shows it: the header is row 1.
	Row  int
	Deal *v1alpha1.DealRegistration
	// NameGenerated is true when the row has no name (GeneratedName).
	NameGenerated bool
}

// RowError is what is wrong with one CSV row, by column.
type RowError struct {
	Row    int
	Column string // "" when the row as a whole is wrong
	Err    error
}

func (e RowError) Error() string {
	switch {
	case e.Row == 0 && e.Column == "": // from flags
		return e.Err.Error()
	case e.Row == 0 && e.Column == colName:
		return fmt.Sprintf("NAME: %v", e.Err)
	case e.Row == 0:
		return fmt.Sprintf("--%s: %v", e.Column, e.Err)
	case e.Column == "":
		return fmt.Sprintf("row %d: %v", e.Row, e.Err)
	}
	return fmt.Sprintf("row %d, column %s: %v", e.Row, e.Column, e.Err)
}

func (e RowError) Unwrap() error { return e.Err }

// RowErrors are the errors of several rows; nothing is registered while any row is wrong.
type RowErrors []RowError

func (e RowErrors) Error() string {
	lines := make([]string, len(e))
	for i, r := range e {
		lines[i] = r.Error()
	}
	return strings.Join(lines, "\n")
}

// ParseRegistrationsCSV reads registrations from CSV: a header row naming the
// columns (the flag names, such as customer-domain; case, spaces and
// underscores do not matter), then one registration per row. Flags given
// with --csv (defaults) fill the cells that are empty or whose column is
// absent. It reads every row and returns every error, each naming its row and
// column (RowErrors), so that nothing is registered from a file with a
// mistake in it.
func ParseRegistrationsCSV(r io.Reader, namespace string, defaults RegistrationFields, now time.Time) ([]RowRegistration, error) {
	rows, errs, err := openCSV(r, registerColumns, headerColumn)
	if err != nil {
		return nil, err
	}
	for _, col := range requiredColumns {
		if !rows.has(col) && defaults.value(col) == "" {
			errs = append(errs, RowError{Row: 1, Column: col, Err: fmt.Errorf("the header has no %s column and --%s is not given", col, col)})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var out []RowRegistration
	names := map[string]int{}
	for {
		line, cells, rerrs, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		errs = append(errs, rerrs...)
		if cells == nil {
			continue
		}
		var f RegistrationFields
		for col, cell := range cells {
			f.set(col, cell)
		}
		d, cerrs := BuildRegistration(namespace, f.withDefaults(defaults), now)
		for _, ce := range cerrs {
			errs = append(errs, RowError{Row: line, Column: ce.Column, Err: errors.New(ce.Message)})
		}
		if d == nil {
			continue
		}
		if first, ok := names[d.Name]; ok && d.Name != "" {
			errs = append(errs, RowError{Row: line, Column: colName, Err: fmt.Errorf("%s is the name of row %d too (generated from partner, customer-domain and product-line when there is no name column): name them apart", d.Name, first)})
			continue
		}
		names[d.Name] = line
		out = append(out, RowRegistration{Row: line, Deal: d, NameGenerated: f.Name == ""})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the CSV has a header and no registration")
	}
	return out, nil
}

// headerColumn normalises a header cell to a column.
func headerColumn(h string) (string, bool) {
	h = headerKey(h)
	h = strings.TrimPrefix(strings.TrimPrefix(h, "--"), "spec.")
	if a, ok := columnAliases[h]; ok {
		return a, true
	}
	return h, slices.Contains(registerColumns, h)
}

// fieldColumns are the API fields the server may refuse, by the column they come from.
var fieldColumns = map[string]string{
	"metadata.name": colName, "spec.partner": colPartner, "spec.type": colType,
	"spec.customer.name": colCustomerName, "spec.customer.domain": colCustomerDomain,
	"spec.customer.duns": colDUNS, "spec.customer.country": colCountry, "spec.customer.segment": colSegment,
	"spec.productLine": colProductLine, "spec.amount": colAmount, "spec.amount.amount": colAmount, "spec.amount.currency": colCurrency,
	"spec.expectedCloseDate": colExpectedClose, "spec.influencers": colInfluencer, "spec.externalIDs": colExternalID,
	"spec.publicTender": colPublicTender,
}

// ColumnOfField is the column a field the server names comes from
// (spec.customer.domain is customer-domain; spec.influencers[2].role is
// influencer), "" for a field no column sets.
func ColumnOfField(field string) string {
	for f := field; f != ""; {
		if i := strings.IndexByte(f, '['); i >= 0 {
			f = f[:i]
		}
		if col, ok := fieldColumns[f]; ok {
			return col
		}
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return ""
}
