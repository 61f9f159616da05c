package plugin

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
)

// Columns of `kubectl partnergov register`: each is a flag (--customer-domain)
// and a CSV header (customer-domain). The building below is pure: the command
// creates what it builds.
const (
	colName           = "name"
	colPartner        = "partner"
	colType           = "type"
	colCustomerName   = "customer-name"
	colCustomerDomain = "customer-domain"
	colDUNS           = "duns"
	colCountry        = "country"
	colSegment        = "segment"
	colProductLine    = "product-line"
	colAmount         = "amount"
	colCurrency       = "currency"
	colExpectedClose  = "expected-close"
	colInfluencer     = "influencer"
	colExternalID     = "external-id"
	colPublicTender   = "public-tender"
)

// registerColumns are the columns in the order the help lists them.
var registerColumns = []string{colName, colPartner, colType, colCustomerName, colCustomerDomain, colDUNS, colCountry, colSegment,
	colProductLine, colAmount, colCurrency, colExpectedClose, colInfluencer, colExternalID, colPublicTender}

// requiredColumns must have a value in every registration (name only without --csv).
var requiredColumns = []string{colPartner, colType, colCustomerName, colCustomerDomain, colProductLine, colAmount, colCurrency}

// columnAliases are other spellings of a column a spreadsheet header may use
// (after normalisation: lower case, spaces and underscores as dashes).
var columnAliases = map[string]string{
	"customer": colCustomerName, "domain": colCustomerDomain, "product": colProductLine, "productline": colProductLine,
	"expected-close-date": colExpectedClose, "close-date": colExpectedClose, "influencers": colInfluencer,
	"external-ids": colExternalID, "externalids": colExternalID, "d-u-n-s": colDUNS, "customer-duns": colDUNS,
	"customer-country": colCountry, "customer-segment": colSegment, "deal-type": colType,
}

// listSeparator separates several influencers or external IDs in one CSV cell.
const listSeparator = ";"

// RegistrationFields is one registration as typed: the flags, or a CSV row's
// cells. Influencers and ExternalIDs hold one entry each.
type RegistrationFields struct {
	Name, Partner, Type                              string
	CustomerName, CustomerDomain, DUNS, Country      string
	Segment, ProductLine, Amount, Currency, Expected string
	Influencers, ExternalIDs                         []string
	// PublicTender is yes/true or no/false (empty: no).
	PublicTender string
}

// value returns the field of a column.
func (f *RegistrationFields) value(col string) string {
	switch col {
	case colName:
		return f.Name
	case colPartner:
		return f.Partner
	case colType:
		return f.Type
	case colCustomerName:
		return f.CustomerName
	case colCustomerDomain:
		return f.CustomerDomain
	case colDUNS:
		return f.DUNS
	case colCountry:
		return f.Country
	case colSegment:
		return f.Segment
	case colProductLine:
		return f.ProductLine
	case colAmount:
		return f.Amount
	case colCurrency:
		return f.Currency
	case colExpectedClose:
		return f.Expected
	case colInfluencer:
		return strings.Join(f.Influencers, listSeparator)
	case colExternalID:
		return strings.Join(f.ExternalIDs, listSeparator)
	case colPublicTender:
		return f.PublicTender
	}
	return ""
}

// set sets the field of a column from a CSV cell (lists split at ";").
func (f *RegistrationFields) set(col, v string) {
	v = strings.TrimSpace(v)
	switch col {
	case colName:
		f.Name = v
	case colPartner:
		f.Partner = v
	case colType:
		f.Type = v
	case colCustomerName:
		f.CustomerName = v
	case colCustomerDomain:
		f.CustomerDomain = v
	case colDUNS:
		f.DUNS = v
	case colCountry:
		f.Country = v
	case colSegment:
		f.Segment = v
	case colProductLine:
		f.ProductLine = v
	case colAmount:
		f.Amount = v
	case colCurrency:
		f.Currency = v
	case colExpectedClose:
		f.Expected = v
	case colInfluencer:
		f.Influencers = splitList(v)
	case colExternalID:
		f.ExternalIDs = splitList(v)
	case colPublicTender:
		f.PublicTender = v
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, listSeparator) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// withDefaults fills the empty fields of f from d (the flags given with --csv).
func (f RegistrationFields) withDefaults(d RegistrationFields) RegistrationFields {
	for _, col := range registerColumns {
		if col != colName && f.value(col) == "" && d.value(col) != "" {
			switch col {
			case colInfluencer:
				f.Influencers = d.Influencers
			case colExternalID:
				f.ExternalIDs = d.ExternalIDs
			default:
				f.set(col, d.value(col))
			}
		}
	}
	return f
}

// ColumnError is a value refused in one column (or flag) of a registration.
type ColumnError struct {
	Column  string
	Message string
}

func (e ColumnError) Error() string { return e.Column + ": " + e.Message }

var (
	amountPattern   = regexp.MustCompile(`^[0-9]{1,18}(\.[0-9]{1,9})?$`)
	groupedAmount   = regexp.MustCompile(`^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{1,9})?$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	countryPattern  = regexp.MustCompile(`^[A-Z]{2}$`)
	dunsPattern     = regexp.MustCompile(`^[0-9]{9}$`)
	productPattern  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// BuildRegistration turns typed fields into the DealRegistration to create in
// namespace, or says every column that is wrong. Case is forgiven where the
// API has one spelling (type, role, currency, country, product line); a D-U-N-S
// number may be written with dashes; an amount with thousands separators. An
// influencer is partner:role[:namespace][@time], at now when no time is
// given; an external ID is system=id. Without a name, the name is generated
// from the partner, the customer's domain and the product line (GeneratedName).
// What only the server knows (the partner exists, the domain is no free-mail
// domain of the program, the customer is free) is left to admission and the
// controller.
func BuildRegistration(namespace string, in RegistrationFields, now time.Time) (*v1alpha1.DealRegistration, []ColumnError) {
	var errs []ColumnError
	bad := func(col, format string, args ...any) {
		errs = append(errs, ColumnError{col, fmt.Sprintf(format, args...)})
	}
	for _, col := range requiredColumns {
		if in.value(col) == "" {
			bad(col, "is required")
		}
	}
	spec := v1alpha1.DealRegistrationSpec{
		Partner:  in.Partner,
		Customer: v1alpha1.Customer{Name: in.CustomerName, Domain: in.CustomerDomain, Segment: in.Segment},
	}

	if in.Type != "" {
		if t, ok := oneOf(in.Type, v1alpha1.DealResale, v1alpha1.DealReferral, v1alpha1.DealCoSell); ok {
			spec.Type = t
		} else {
			bad(colType, "%q is not a deal type: Resale, Referral or CoSell", in.Type)
		}
	}
	if in.DUNS != "" {
		duns := strings.NewReplacer("-", "", " ", "").Replace(in.DUNS)
		if !dunsPattern.MatchString(duns) {
			bad(colDUNS, "%q is not a D-U-N-S number: nine digits", in.DUNS)
		}
		spec.Customer.DUNS = duns
	}
	switch strings.ToLower(in.PublicTender) {
	case "", "no", "false", "n", "0":
	case "yes", "true", "y", "1":
		spec.PublicTender = true
	default:
		bad(colPublicTender, "%q is not yes or no", in.PublicTender)
	}
	if in.Country != "" {
		spec.Customer.Country = strings.ToUpper(in.Country)
		if !countryPattern.MatchString(spec.Customer.Country) {
			bad(colCountry, "%q is not an ISO 3166-1 alpha-2 country code such as US or DE", in.Country)
		}
	}
	if len(in.Segment) > 63 {
		bad(colSegment, "is longer than 63 characters")
	}
	if len(in.CustomerName) > 253 {
		bad(colCustomerName, "is longer than 253 characters")
	}
	if in.ProductLine != "" {
		spec.ProductLine = strings.ToLower(in.ProductLine)
		if len(spec.ProductLine) > 63 || !productPattern.MatchString(spec.ProductLine) {
			bad(colProductLine, "%q is not a product line: lower-case letters, digits and dashes, such as sync", in.ProductLine)
		}
	}
	if in.Amount != "" {
		amount := in.Amount
		if groupedAmount.MatchString(amount) {
			amount = strings.ReplaceAll(amount, ",", "")
		}
		if !amountPattern.MatchString(amount) {
			bad(colAmount, "%q is not an amount: a non-negative decimal such as 25000 or 1250.50, without currency", in.Amount)
		}
		spec.Amount.Amount = v1alpha1.Decimal(amount)
	}
	if in.Currency != "" {
		spec.Amount.Currency = strings.ToUpper(in.Currency)
		if !currencyPattern.MatchString(spec.Amount.Currency) {
			bad(colCurrency, "%q is not an ISO 4217 currency code such as USD or EUR", in.Currency)
		}
	}
	if in.Expected != "" {
		if t, err := parseWhen(in.Expected); err != nil {
			bad(colExpectedClose, "%v", err)
		} else {
			spec.ExpectedCloseDate = &metav1.Time{Time: t}
		}
	}
	for _, raw := range in.Influencers {
		inf, err := parseInfluencer(raw, now)
		if err != nil {
			bad(colInfluencer, "%v", err)
			continue
		}
		spec.Influencers = append(spec.Influencers, inf)
	}
	if len(in.Influencers) > 8 {
		bad(colInfluencer, "at most 8 influencers, not %d", len(in.Influencers))
	}
	for _, raw := range in.ExternalIDs {
		system, id, ok := strings.Cut(raw, "=")
		system, id = strings.TrimSpace(system), strings.TrimSpace(id)
		switch {
		case !ok || system == "" || id == "":
			bad(colExternalID, "%q is not system=id, such as salesforce=006Dn00000AbCdE", raw)
		case slices.ContainsFunc(spec.ExternalIDs, func(x v1alpha1.ExternalID) bool { return x.System == system }):
			bad(colExternalID, "system %s is named twice", system)
		default:
			spec.ExternalIDs = append(spec.ExternalIDs, v1alpha1.ExternalID{System: system, ID: id})
		}
	}
	if len(in.ExternalIDs) > 4 {
		bad(colExternalID, "at most 4 external IDs, not %d", len(in.ExternalIDs))
	}

	name := in.Name
	if name == "" && in.Partner != "" && in.CustomerDomain != "" && spec.ProductLine != "" {
		name = GeneratedName(in.Partner, in.CustomerDomain, spec.ProductLine)
	}
	if name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			bad(colName, "%q is not a valid name: %s", name, msg)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &v1alpha1.DealRegistration{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "DealRegistration"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       spec,
	}, nil
}

// oneOf matches s to one of the API's spellings, ignoring case.
func oneOf[T ~string](s string, values ...T) (T, bool) {
	for _, v := range values {
		if strings.EqualFold(s, string(v)) {
			return v, true
		}
	}
	return "", false
}

// parseWhen reads a date (2027-03-31, midnight UTC) or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2027-03-31) or an RFC 3339 time (2027-03-31T17:00:00Z)", s)
}

// parseInfluencer reads partner:role[:namespace][@time].
func parseInfluencer(raw string, now time.Time) (v1alpha1.Influencer, error) {
	var inf v1alpha1.Influencer
	usage := fmt.Errorf("%q is not partner:role[:namespace][@time], such as globex-si:TechnicalWin or globex-si:Introduction:partners@2026-10-01", raw)
	who, at, timed := strings.Cut(strings.TrimSpace(raw), "@")
	parts := strings.Split(who, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return inf, usage
	}
	inf.Partner = parts[0]
	role, ok := oneOf(parts[1], v1alpha1.InfluenceIntroduction, v1alpha1.InfluenceTechnicalWin, v1alpha1.InfluenceImplementation, v1alpha1.InfluenceMarketplace)
	if !ok {
		return inf, fmt.Errorf("%q: role %q is not Introduction, TechnicalWin, Implementation or Marketplace", raw, parts[1])
	}
	inf.Role = role
	if len(parts) == 3 {
		if parts[2] == "" {
			return inf, usage
		}
		inf.Namespace = parts[2]
	}
	inf.At = metav1.NewTime(now.UTC().Truncate(time.Second))
	if timed {
		t, err := parseWhen(at)
		if err != nil {
			return inf, fmt.Errorf("%q: %v", raw, err)
		}
		inf.At = metav1.NewTime(t)
	}
	return inf, nil
}

// maxGeneratedName keeps generated names short enough for kubectl's columns
// and for the names derived from them (<name>-review-<uid>).
const maxGeneratedName = 63

// GeneratedName is the name of a registration registered without one:
// <partner>-<customer domain>-<product line>, the domain reduced as the
// controller compares it when it can be (www.Acme.com/contact is acme-com), in
// DNS characters; a name longer than 63 characters is cut and ends with a hash
// of the whole. The same row registered twice gets the same name, so the
// second is refused as already existing instead of registering twice.
func GeneratedName(partner, domain, productLine string) string {
	d, err := deal.CanonicalDomain(domain, nil)
	if err != nil {
		d = domain
	}
	full := dnsWords(partner) + "-" + dnsWords(d) + "-" + dnsWords(productLine)
	if len(full) <= maxGeneratedName {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	return strings.TrimRight(full[:maxGeneratedName-9], "-") + "-" + hex.EncodeToString(sum[:])[:8]
}

// dnsWords lower-cases s and joins its runs of letters and digits with dashes.
func dnsWords(s string) string {
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
		words = append(words, w)
	}
	return strings.Join(words, "-")
}

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
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the CSV is empty: it needs a header row naming the columns (%s)", strings.Join(registerColumns, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("the CSV header: %w", err)
	}
	cols := make([]string, len(header))
	var errs RowErrors
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // a spreadsheet's byte order mark
		}
		col, ok := headerColumn(h)
		switch {
		case strings.TrimSpace(h) == "":
			// An unnamed column: its cells must stay empty.
		case !ok:
			errs = append(errs, RowError{Row: 1, Column: h, Err: fmt.Errorf("unknown column; the columns are %s", strings.Join(registerColumns, ", "))})
		case slices.Contains(cols, col):
			errs = append(errs, RowError{Row: 1, Column: h, Err: fmt.Errorf("column %s is named twice", col)})
		default:
			cols[i] = col
		}
	}
	for _, col := range requiredColumns {
		if !slices.Contains(cols, col) && defaults.value(col) == "" {
			errs = append(errs, RowError{Row: 1, Column: col, Err: fmt.Errorf("the header has no %s column and --%s is not given", col, col)})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var out []RowRegistration
	names := map[string]int{}
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("reading the CSV: %w", err)
			}
			errs = append(errs, RowError{Row: pe.StartLine, Err: pe.Err})
			continue
		}
		line, _ := cr.FieldPos(0)
		var f RegistrationFields
		for i, cell := range record {
			switch {
			case i >= len(cols):
				if strings.TrimSpace(cell) != "" {
					errs = append(errs, RowError{Row: line, Err: fmt.Errorf("cell %d is beyond the header's %d columns", i+1, len(cols))})
				}
			case cols[i] == "":
				if strings.TrimSpace(cell) != "" {
					errs = append(errs, RowError{Row: line, Err: fmt.Errorf("cell %d is under a column without a name", i+1)})
				}
			default:
				f.set(cols[i], cell)
			}
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
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.Join(strings.FieldsFunc(h, func(r rune) bool { return r == ' ' || r == '_' || r == '-' }), "-")
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
