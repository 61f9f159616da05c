package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// minimal are the required columns of one registration.
func minimal() RegistrationFields {
	return RegistrationFields{Name: "acme-globex-sync", Partner: "acme", Type: "Resale", CustomerName: "Globex Corp",
		CustomerDomain: "globex.com", ProductLine: "sync", Amount: "25000", Currency: "USD"}
}

func minimalSpec() v1alpha1.DealRegistrationSpec {
	return v1alpha1.DealRegistrationSpec{Partner: "acme", Type: v1alpha1.DealResale, ProductLine: "sync",
		Customer: v1alpha1.Customer{Name: "Globex Corp", Domain: "globex.com"},
		Amount:   v1alpha1.Money{Amount: "25000", Currency: "USD"}}
}

func TestBuildRegistration(t *testing.T) {
	at := func(s string) metav1.Time { tm, _ := time.Parse(time.RFC3339, s); return metav1.NewTime(tm) }
	tests := map[string]struct {
		change   func(*RegistrationFields)
		want     func(*v1alpha1.DealRegistrationSpec)
		wantName string
		// errs are the columns refused, each with a part of its message.
		errs map[string]string
	}{
		"the required columns make a registration": {},
		"every column": {
			change: func(f *RegistrationFields) {
				f.DUNS, f.Country, f.Segment, f.Expected = "123456789", "DE", "enterprise", "2027-03-31"
				f.Influencers = []string{"globex-si:TechnicalWin", "nimbus:Introduction:others@2026-10-01T09:30:00Z"}
				f.ExternalIDs = []string{"salesforce=006Dn00000AbCdE", "hubspot = 42"}
			},
			want: func(s *v1alpha1.DealRegistrationSpec) {
				s.Customer.DUNS, s.Customer.Country, s.Customer.Segment = "123456789", "DE", "enterprise"
				s.ExpectedCloseDate = &metav1.Time{Time: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)}
				s.Influencers = []v1alpha1.Influencer{
					{Partner: "globex-si", Role: v1alpha1.InfluenceTechnicalWin, At: metav1.NewTime(now)},
					{Partner: "nimbus", Namespace: "others", Role: v1alpha1.InfluenceIntroduction, At: at("2026-10-01T09:30:00Z")},
				}
				s.ExternalIDs = []v1alpha1.ExternalID{{System: "salesforce", ID: "006Dn00000AbCdE"}, {System: "hubspot", ID: "42"}}
			},
		},
		"a public tender is marked": {
			change: func(f *RegistrationFields) { f.PublicTender = "Yes" },
			want:   func(s *v1alpha1.DealRegistrationSpec) { s.PublicTender = true },
		},
		"public-tender is yes or no": {
			change: func(f *RegistrationFields) { f.PublicTender = "maybe" },
			errs:   map[string]string{colPublicTender: "not yes or no"},
		},
		"case is forgiven where the API has one spelling": {
			change: func(f *RegistrationFields) {
				f.Type, f.Currency, f.Country, f.ProductLine = "cosell", "usd", "us", "Sync"
				f.Influencers = []string{"globex-si:technicalwin@2026-10-01"}
			},
			want: func(s *v1alpha1.DealRegistrationSpec) {
				s.Type, s.Amount.Currency, s.Customer.Country = v1alpha1.DealCoSell, "USD", "US"
				s.Influencers = []v1alpha1.Influencer{{Partner: "globex-si", Role: v1alpha1.InfluenceTechnicalWin, At: at("2026-10-01T00:00:00Z")}}
			},
		},
		"a D-U-N-S number may be written with dashes": {
			change: func(f *RegistrationFields) { f.DUNS = "12-345-6789" },
			want:   func(s *v1alpha1.DealRegistrationSpec) { s.Customer.DUNS = "123456789" },
		},
		"an amount may have thousands separators": {
			change: func(f *RegistrationFields) { f.Amount = "1,250,000.50" },
			want:   func(s *v1alpha1.DealRegistrationSpec) { s.Amount.Amount = "1250000.50" },
		},
		"without a name the name is generated from partner, domain and product line": {
			change:   func(f *RegistrationFields) { f.Name, f.CustomerDomain = "", "https://www.Globex.com/contact" },
			want:     func(s *v1alpha1.DealRegistrationSpec) { s.Customer.Domain = "https://www.Globex.com/contact" },
			wantName: "acme-globex-com-sync",
		},
		"every required column is named when missing": {
			change: func(f *RegistrationFields) { *f = RegistrationFields{Name: "x"} },
			errs: map[string]string{colPartner: "is required", colType: "is required", colCustomerName: "is required",
				colCustomerDomain: "is required", colProductLine: "is required", colAmount: "is required", colCurrency: "is required"},
		},
		"an unknown deal type is refused": {
			change: func(f *RegistrationFields) { f.Type = "Resell" },
			errs:   map[string]string{colType: `"Resell" is not a deal type: Resale, Referral or CoSell`},
		},
		"an amount with its currency is refused": {
			change: func(f *RegistrationFields) { f.Amount = "25000 USD" },
			errs:   map[string]string{colAmount: "without currency"},
		},
		"a negative amount is refused": {
			change: func(f *RegistrationFields) { f.Amount = "-5" },
			errs:   map[string]string{colAmount: "non-negative"},
		},
		"a currency that is no ISO code is refused": {
			change: func(f *RegistrationFields) { f.Currency = "$" },
			errs:   map[string]string{colCurrency: "ISO 4217"},
		},
		"a D-U-N-S number is nine digits": {
			change: func(f *RegistrationFields) { f.DUNS = "12345678" },
			errs:   map[string]string{colDUNS: "nine digits"},
		},
		"a country is two letters": {
			change: func(f *RegistrationFields) { f.Country = "Germany" },
			errs:   map[string]string{colCountry: "alpha-2"},
		},
		"a product line is a DNS label": {
			change: func(f *RegistrationFields) { f.ProductLine = "sync & vault" },
			errs:   map[string]string{colProductLine: "not a product line"},
		},
		"an expected close is a date": {
			change: func(f *RegistrationFields) { f.Expected = "31/03/2027" },
			errs:   map[string]string{colExpectedClose: "not a date (2027-03-31)"},
		},
		"an influencer names its role": {
			change: func(f *RegistrationFields) { f.Influencers = []string{"globex-si"} },
			errs:   map[string]string{colInfluencer: "partner:role[:namespace][@time]"},
		},
		"an influencer's role is one of four": {
			change: func(f *RegistrationFields) { f.Influencers = []string{"globex-si:Hero"} },
			errs:   map[string]string{colInfluencer: `role "Hero" is not Introduction`},
		},
		"an influencer's time is a date or a time": {
			change: func(f *RegistrationFields) { f.Influencers = []string{"globex-si:Introduction@yesterday"} },
			errs:   map[string]string{colInfluencer: `"yesterday" is not a date`},
		},
		"at most eight influencers": {
			change: func(f *RegistrationFields) {
				for i := range 9 {
					f.Influencers = append(f.Influencers, fmt.Sprintf("p%d:Introduction", i))
				}
			},
			errs: map[string]string{colInfluencer: "at most 8 influencers, not 9"},
		},
		"an external ID is system=id": {
			change: func(f *RegistrationFields) { f.ExternalIDs = []string{"006Dn00000AbCdE"} },
			errs:   map[string]string{colExternalID: "is not system=id"},
		},
		"an external ID's system is named once": {
			change: func(f *RegistrationFields) { f.ExternalIDs = []string{"salesforce=1", "salesforce=2"} },
			errs:   map[string]string{colExternalID: "system salesforce is named twice"},
		},
		"a name is a DNS subdomain": {
			change: func(f *RegistrationFields) { f.Name = "Acme Globex" },
			errs:   map[string]string{colName: `"Acme Globex" is not a valid name`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := minimal()
			if tc.change != nil {
				tc.change(&in)
			}
			d, errs := BuildRegistration("partners", in, now)
			got := map[string]string{}
			for _, e := range errs {
				got[e.Column] += e.Message
			}
			if len(tc.errs) > 0 || len(errs) > 0 {
				if d != nil {
					t.Errorf("built a registration despite errors %v", errs)
				}
				if len(got) != len(tc.errs) {
					t.Errorf("refused columns %v, want those of %v", got, tc.errs)
				}
				for col, want := range tc.errs {
					if !strings.Contains(got[col], want) {
						t.Errorf("column %s: %q, want it to say %q", col, got[col], want)
					}
				}
				return
			}
			want := minimalSpec()
			if tc.want != nil {
				tc.want(&want)
			}
			if diff := cmp.Diff(want, d.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
			wantName := in.Name
			if tc.wantName != "" {
				wantName = tc.wantName
			}
			if d.Name != wantName || d.Namespace != "partners" || d.Kind != "DealRegistration" || d.APIVersion != v1alpha1.GroupVersion.String() {
				t.Errorf("object %s %s/%s, want DealRegistration partners/%s", d.GroupVersionKind(), d.Namespace, d.Name, wantName)
			}
		})
	}
}

func TestGeneratedName(t *testing.T) {
	long := strings.Repeat("very-long-partner-name-", 4)
	tests := map[string]struct {
		partner, domain, product string
		want                     string // a regexp
	}{
		"partner, domain and product line":             {"acme-consulting", "globex.com", "sync", `^acme-consulting-globex-com-sync$`},
		"the domain is reduced as the controller does": {"acme", "https://www.eu.Globex.co.uk/contact", "sync", `^acme-globex-co-uk-sync$`},
		"a domain that cannot be reduced is kept":      {"acme", "jane@gmail.com", "sync", `^acme-jane-gmail-com-sync$`},
		"a long name is cut and ends with a hash":      {long, "globex.com", "sync", `^very-long-partner-name-[-a-z]*[a-z]-[0-9a-f]{8}$`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := GeneratedName(tc.partner, tc.domain, tc.product)
			if !regexp.MustCompile(tc.want).MatchString(got) {
				t.Errorf("GeneratedName = %q, want %s", got, tc.want)
			}
			if len(got) > maxGeneratedName {
				t.Errorf("GeneratedName = %q: %d characters, more than %d", got, len(got), maxGeneratedName)
			}
			if again := GeneratedName(tc.partner, tc.domain, tc.product); again != got {
				t.Errorf("GeneratedName is not deterministic: %q then %q", got, again)
			}
		})
	}
	if a, b := GeneratedName(long, "globex.com", "sync"), GeneratedName(long, "globex.com", "vault"); a == b {
		t.Errorf("two long names that differ after the cut are the same: %q", a)
	}
}

func TestParseRegistrationsCSV(t *testing.T) {
	const header = "name,partner,type,customer-name,customer-domain,product-line,amount,currency\n"
	tests := map[string]struct {
		csv      string
		defaults RegistrationFields
		// rows are the rows registered, as row: name.
		rows map[int]string
		// check looks at the registrations by row.
		check func(t *testing.T, byRow map[int]*v1alpha1.DealRegistration)
		// errs are the errors expected, in order (substrings of "row N, column C: ...").
		errs []string
		// generated: the rows' names are generated.
		generated bool
	}{
		"rows are numbered as a spreadsheet shows them": {
			csv:  header + "a,acme,Resale,Globex,globex.com,sync,100,USD\n\nb,acme,Referral,Initech,initech.com,sync,200,EUR\n",
			rows: map[int]string{2: "a", 4: "b"},
			check: func(t *testing.T, byRow map[int]*v1alpha1.DealRegistration) {
				if got := byRow[4].Spec; got.Type != v1alpha1.DealReferral || got.Customer.Domain != "initech.com" || got.Amount.Currency != "EUR" || byRow[4].Namespace != "partners" {
					t.Errorf("row 4 is %+v", got)
				}
			},
		},
		"flags fill the cells that are empty or whose column is absent": {
			csv:       "customer-name,customer-domain,product-line,amount,type\nGlobex,globex.com,sync,100,\nInitech,initech.com,sync,200,Referral\n",
			defaults:  RegistrationFields{Partner: "acme", Type: "Resale", Currency: "USD", Influencers: []string{"si:Introduction"}},
			rows:      map[int]string{2: "acme-globex-com-sync", 3: "acme-initech-com-sync"},
			generated: true,
			check: func(t *testing.T, byRow map[int]*v1alpha1.DealRegistration) {
				if byRow[2].Spec.Type != v1alpha1.DealResale || byRow[3].Spec.Type != v1alpha1.DealReferral {
					t.Errorf("types %s, %s: want the flag's Resale for the empty cell, the cell's Referral for the other", byRow[2].Spec.Type, byRow[3].Spec.Type)
				}
				for row, d := range byRow {
					if d.Spec.Partner != "acme" || d.Spec.Amount.Currency != "USD" || len(d.Spec.Influencers) != 1 {
						t.Errorf("row %d did not take partner, currency and influencer from the flags: %+v", row, d.Spec)
					}
				}
			},
		},
		"a spreadsheet's headers are understood": {
			csv: "\uFEFFName,Partner,Deal Type,Customer Name,Customer_Domain,Product Line,Amount,Currency,Expected Close Date,Influencers,External IDs\n" +
				`x,acme,resale,"Globex, Inc.",globex.com,sync,"25,000",usd,2027-03-31,si:Introduction;nimbus:TechnicalWin,salesforce=1;hubspot=2` + "\n",
			rows: map[int]string{2: "x"},
			check: func(t *testing.T, byRow map[int]*v1alpha1.DealRegistration) {
				s := byRow[2].Spec
				if s.Customer.Name != "Globex, Inc." || s.Amount.Amount != "25000" || len(s.Influencers) != 2 || len(s.ExternalIDs) != 2 || s.ExpectedCloseDate == nil {
					t.Errorf("spec %+v", s)
				}
			},
		},
		"short rows leave the missing cells empty": {
			csv:       "partner,customer-domain,customer-name\nacme,globex.com\n",
			defaults:  RegistrationFields{Type: "Resale", CustomerName: "From the flag", ProductLine: "sync", Amount: "1", Currency: "USD"},
			rows:      map[int]string{2: "acme-globex-com-sync"},
			generated: true,
		},
		"every wrong cell is named by row and column, and nothing is registered": {
			csv: header + "a,acme,Resale,Globex,globex.com,sync,100,USD\nb,acme,Resell,Initech,initech.com,sync,200,USD\nc,acme,Resale,Umbrella,,sync,12 USD,USD\n",
			errs: []string{
				`row 3, column type: "Resell" is not a deal type`,
				"row 4, column customer-domain: is required",
				`row 4, column amount: "12 USD" is not an amount`,
			},
		},
		"a trailing unnamed column with empty cells is allowed": {
			csv:  strings.TrimSuffix(header, "\n") + ",\na,acme,Resale,Globex,globex.com,sync,100,USD,\n",
			rows: map[int]string{2: "a"},
		},
		"an unknown column is refused": {
			csv:  "partner,type,customer-name,customer-domain,product-line,amount,currency,discount\n",
			errs: []string{"row 1, column discount: unknown column; the columns are name, partner"},
		},
		"a required column needs the header or a flag": {
			csv:  "partner,type,customer-name,customer-domain,amount\n",
			errs: []string{"row 1, column product-line: the header has no product-line column and --product-line is not given", "row 1, column currency: the header has no currency column"},
		},
		"a column is named once": {
			csv:  "partner,type,customer-name,customer-domain,product-line,amount,currency,Domain\n",
			errs: []string{"row 1, column Domain: column customer-domain is named twice"},
		},
		"two rows of one name are refused": {
			csv:      "customer-domain,customer-name\nglobex.com,Globex\nwww.globex.com,Globex again\n",
			defaults: RegistrationFields{Partner: "acme", Type: "Resale", ProductLine: "sync", Amount: "1", Currency: "USD"},
			errs:     []string{"row 3, column name: acme-globex-com-sync is the name of row 2 too"},
		},
		"a cell under no column is refused": {
			csv:  header + "a,acme,Resale,Globex,globex.com,sync,100,USD,surplus\n",
			errs: []string{"row 2: cell 9 is beyond the header's 8 columns"},
		},
		"a broken quote names its row": {
			csv:  header + "a,acme,Resale,Globex,globex.com,sync,100,USD\nb,acme,Resale,\"Init\"ech,initech.com,sync,100,USD\n",
			errs: []string{`row 3: extraneous or missing " in quoted-field`},
		},
		"an empty file needs a header": {
			csv:  "",
			errs: []string{"the CSV is empty: it needs a header row"},
		},
		"a header alone registers nothing": {
			csv:  header,
			errs: []string{"the CSV has a header and no registration"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			regs, err := ParseRegistrationsCSV(strings.NewReader(tc.csv), "partners", tc.defaults, now)
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tc.errs)
				}
				if regs != nil {
					t.Errorf("registrations returned with an error: %d", len(regs))
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tc.errs) {
					t.Errorf("errors:\n%s\nwant %d", err, len(tc.errs))
				}
				for i, want := range tc.errs {
					if i < len(lines) && !strings.Contains(lines[i], want) {
						t.Errorf("error %d is %q, want it to say %q", i, lines[i], want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			byRow := map[int]*v1alpha1.DealRegistration{}
			got := map[int]string{}
			for _, r := range regs {
				byRow[r.Row], got[r.Row] = r.Deal, r.Deal.Name
				if r.NameGenerated != tc.generated {
					t.Errorf("row %d: NameGenerated %v, want %v", r.Row, r.NameGenerated, tc.generated)
				}
			}
			if diff := cmp.Diff(tc.rows, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, byRow)
			}
		})
	}
}

func TestTheServersRefusalNamesTheColumn(t *testing.T) {
	gk := schema.GroupKind{Group: v1alpha1.GroupVersion.Group, Kind: "DealRegistration"}
	tests := map[string]struct {
		row  int
		err  error
		want []string
	}{
		"a refused domain is the customer-domain column": {
			row:  4,
			err:  apierrors.NewInvalid(gk, "x", field.ErrorList{field.Invalid(field.NewPath("spec", "customer", "domain"), "jane@gmail.com", "gmail.com is a free-mail domain")}),
			want: []string{`row 4, column customer-domain: Invalid value: "jane@gmail.com": gmail.com is a free-mail domain`},
		},
		"each refused field is named": {
			row: 2,
			err: apierrors.NewInvalid(gk, "x", field.ErrorList{
				field.NotFound(field.NewPath("spec", "partner"), "nobody"),
				field.Invalid(field.NewPath("spec", "influencers").Index(1).Child("role"), "Hero", "unsupported"),
				field.Invalid(field.NewPath("spec", "amount", "currency"), "$", "pattern"),
			}),
			want: []string{"row 2, column partner: Not found", "row 2, column influencer: Invalid value", "row 2, column currency: Invalid value"},
		},
		"from flags the flag is named": {
			err:  apierrors.NewInvalid(gk, "x", field.ErrorList{field.Invalid(field.NewPath("spec", "productLine"), "Sync", "pattern")}),
			want: []string{`--product-line: Invalid value: "Sync": pattern`},
		},
		"an error without fields is the row's": {
			row:  3,
			err:  apierrors.NewForbidden(schema.GroupResource{Resource: "dealregistrations"}, "x", errors.New("no RBAC")),
			want: []string{"row 3: dealregistrations \"x\" is forbidden: no RBAC"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Refusal(tc.row, tc.err)
			if len(got) != len(tc.want) {
				t.Fatalf("refusal %q, want %d errors", got, len(tc.want))
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(got[i].Error(), want) {
					t.Errorf("error %d is %q, want it to start %q", i, got[i].Error(), want)
				}
			}
		})
	}
}

func TestWriteRegistered(t *testing.T) {
	until := metav1.NewTime(now.Add(90 * 24 * time.Hour))
	approved := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: "a"},
		Status: v1alpha1.DealRegistrationStatus{Phase: v1alpha1.DealApproved, Reason: v1alpha1.ReasonDealAutoApproved, ProtectedUntil: &until}}
	queued := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: "b"},
		Status: v1alpha1.DealRegistrationStatus{Phase: v1alpha1.DealQueued, Reason: v1alpha1.ReasonDealHeld,
			Holder: &v1alpha1.DealHolder{Kind: "Partner", Namespace: "q", Name: "first", Partner: "globex"}}}
	submitted := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: "p", Name: "c"}}
	refused := apierrors.NewInvalid(schema.GroupKind{Kind: "DealRegistration"}, "d",
		field.ErrorList{field.Invalid(field.NewPath("spec", "customer", "domain"), "gmail.com", "free-mail")})
	tests := map[string]struct {
		results []Registered
		csv     bool
		out     string
		errOut  string
		err     string
	}{
		"one line per registration, with phase, reason, holder and protection": {
			results: []Registered{
				{Row: 2, Deal: approved, Created: true},
				{Row: 3, Deal: queued, Created: true, Warnings: []string{"registration q/first of partner globex holds k: this registration will be queued behind it"}},
			},
			csv: true,
			out: "ROW  NAMESPACE  NAME  PHASE     REASON         HOLDER            PROTECTED UNTIL\n" +
				"2    p          a     Approved  AutoApproved   -                 2027-02-21T12:00:00Z (in 90d)\n" +
				"3    p          b     Queued    HeldByAnother  globex (q/first)  -\n",
			errOut: "Warning: row 3 (b): registration q/first of partner globex holds k: this registration will be queued behind it\n",
		},
		"a registration not decided in time says so": {
			results: []Registered{{Deal: submitted, Created: true}},
			out: "NAMESPACE  NAME  PHASE      REASON  HOLDER  PROTECTED UNTIL\n" +
				"p          c     Submitted  -       -       -\n" +
				"1 not decided yet: kubectl partnergov deals --partner P (or explain deal NAME) shows them once the controller has\n",
		},
		"a dry run validates": {
			results: []Registered{{Row: 2, Deal: submitted}},
			csv:     true,
			out: "ROW  NAMESPACE  NAME  PHASE            REASON  HOLDER  PROTECTED UNTIL\n" +
				"2    p          c     Valid (dry run)  -       -       -\n",
		},
		"refused rows are the error, by row and column, without their warnings": {
			results: []Registered{{Row: 2, Deal: approved, Created: true}, {Row: 3, Deal: submitted, Err: refused, Warnings: []string{"about a registration that was not created"}}},
			csv:     true,
			out: "ROW  NAMESPACE  NAME  PHASE     REASON        HOLDER  PROTECTED UNTIL\n" +
				"2    p          a     Approved  AutoApproved  -       2027-02-21T12:00:00Z (in 90d)\n",
			err: "1 of 2 registrations refused:\nrow 3, column customer-domain: Invalid value: \"gmail.com\": free-mail",
		},
		"from flags the refusal names the flag": {
			results: []Registered{{Deal: submitted, Err: refused}},
			err:     "--customer-domain: Invalid value: \"gmail.com\": free-mail",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := writeRegistered(&out, &errOut, tc.results, tc.csv, now)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
			if diff := cmp.Diff(tc.out, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.errOut, errOut.String()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
