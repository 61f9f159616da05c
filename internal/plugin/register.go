package plugin

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/partnergov/partnergov/api/v1alpha1"
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
