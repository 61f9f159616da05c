package plugin

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/tier"
)

const (
	crmVia = "serviceaccount:integrations/crm-sync"
	lmsVia = "serviceaccount:integrations/lms-sync"
)

// simLive is a live configuration: program global with registered (rank 0) and
// select (rank 1: revenue >= 100, training >= 5; Resell and List).
func simLive() Configuration {
	sel := testTier("select", 1, req("revenue", v1alpha1.OperatorGreaterThanOrEqual, "100"), req("training", v1alpha1.OperatorGreaterThanOrEqual, "5"))
	sel.Spec.Entitlements = v1alpha1.Entitlements{Resell: true, List: true}
	reg := testTier("registered", 0)
	reg.Spec.Entitlements = v1alpha1.Entitlements{Resell: true}
	return Configuration{Programs: []v1alpha1.PartnerProgram{*testProgram()}, Tiers: []v1alpha1.PartnerTier{reg, sel}}
}

// simPartner is a partner with the given evidence whose status is what the
// controller stored under live.
func simPartner(t *testing.T, name string, live Configuration, evidence ...v1alpha1.EvidenceEntry) v1alpha1.Partner {
	t.Helper()
	p := v1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: name},
		Spec:       v1alpha1.PartnerSpec{Program: "global", Type: v1alpha1.PartnerTypeGSI, Owner: "o@example.com"},
		Status:     v1alpha1.PartnerStatus{Evidence: evidence},
	}
	res := tier.Evaluate(tier.Input{Now: now.Add(-time.Hour), Program: &live.Programs[0], Tiers: live.Tiers, Partner: &p})
	p.Status = res.Status
	return p
}

func simListing(name, partner string) v1alpha1.Listing {
	return v1alpha1.Listing{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: name},
		Spec:       v1alpha1.ListingSpec{Partner: partner, Product: name, Kind: v1alpha1.ListingKindApp},
	}
}

func TestSimulate(t *testing.T) {
	live := simLive()
	fresh := now.Add(-2 * time.Hour)
	partners := []v1alpha1.Partner{
		simPartner(t, "acme", live, entry("revenue", "150", crmVia, fresh), entry("training", "7", lmsVia, fresh)),
		simPartner(t, "nimbus", live, entry("revenue", "300", crmVia, fresh), entry("training", "9", lmsVia, fresh)),
		simPartner(t, "orbit", live, entry("revenue", "150", crmVia, fresh)), // no training: registered
	}
	if partners[0].Status.Tier != "select" || partners[2].Status.Tier != "registered" {
		t.Fatalf("fixture: acme holds %q, orbit %q", partners[0].Status.Tier, partners[2].Status.Tier)
	}
	listings := []v1alpha1.Listing{simListing("acme-sync", "acme"), simListing("orbit-sync", "orbit")}
	// Listings as the listing controller stored them.
	for i := range listings {
		listings[i].Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionPublished, Status: conditions.Status(listings[i].Name == "acme-sync")}}
	}

	selectAbove := func(threshold string, grace *time.Duration) v1alpha1.PartnerTier {
		sel := *live.Tiers[1].DeepCopy()
		sel.Spec.Requirements[0].Threshold = v1alpha1.Decimal(threshold)
		if grace != nil {
			sel.Spec.DemotionGracePeriod = &metav1.Duration{Duration: *grace}
		}
		return sel
	}
	noGrace := time.Duration(0)
	withoutTraining := testProgram()
	withoutTraining.Spec.Metrics = withoutTraining.Spec.Metrics[:1]
	selectOnRevenue := *live.Tiers[1].DeepCopy()
	selectOnRevenue.Spec.Requirements = selectOnRevenue.Spec.Requirements[:1]
	advanced := testTier("advanced", 2, req("revenue", v1alpha1.OperatorGreaterThanOrEqual, "250"))
	advanced.Spec.Entitlements = v1alpha1.Entitlements{Resell: true, List: true, Implement: true}
	enablementOnly := testTier("gold", 3, req("training", v1alpha1.OperatorGreaterThanOrEqual, "50"))
	sameRank := testTier("silver", 1, req("revenue", v1alpha1.OperatorGreaterThanOrEqual, "1"))

	deadline := now.Add(720 * time.Hour)
	tests := map[string]struct {
		proposed     Configuration
		maxDemotions int
		want         []PartnerChange // compared on Partner, Kind, From, To, Deadline, Lost, Gained
		wantListings []ListingChange // compared on Listing, Publish, At
		wantErrors   []string
		wantErr      string
		wantSummary  string
	}{
		"raising a threshold puts a partner at risk and unpublishes its listing at the deadline": {
			proposed:     Configuration{Tiers: []v1alpha1.PartnerTier{selectAbove("200", nil)}},
			maxDemotions: -1,
			want: []PartnerChange{{Partner: key("acme"), Kind: ChangeAtRisk, From: "select", To: "registered", Deadline: &deadline,
				Lost: []string{"List"}}},
			wantListings: []ListingChange{{Listing: key("acme-sync"), Publish: false, At: &deadline}},
			wantSummary:  "Summary: 3 partners evaluated, 0 promotions, 1 demotion (1 at risk now, 0 drop now), 1 listing unpublished (0 now, 1 at a demotion deadline), 0 published",
		},
		"raising a threshold of a tier without grace drops now": {
			proposed:     Configuration{Tiers: []v1alpha1.PartnerTier{selectAbove("200", &noGrace)}},
			maxDemotions: -1,
			want:         []PartnerChange{{Partner: key("acme"), Kind: ChangeDrop, From: "select", To: "registered", Lost: []string{"List"}}},
			wantListings: []ListingChange{{Listing: key("acme-sync"), Publish: false}},
			wantSummary:  "Summary: 3 partners evaluated, 0 promotions, 1 demotion (0 at risk now, 1 drop now), 1 listing unpublished (1 now, 0 at a demotion deadline), 0 published",
		},
		"removing a metric a tier requires from the catalog is refused": {
			proposed:     Configuration{Programs: []v1alpha1.PartnerProgram{*withoutTraining}},
			maxDemotions: -1,
			// Still simulated, as the controller would evaluate it were it admitted:
			// the select tier can no longer be earned.
			want: []PartnerChange{
				{Partner: key("acme"), Kind: ChangeAtRisk, From: "select", To: "registered", Deadline: &deadline, Lost: []string{"List"}},
				{Partner: key("nimbus"), Kind: ChangeAtRisk, From: "select", To: "registered", Deadline: &deadline, Lost: []string{"List"}},
			},
			wantListings: []ListingChange{{Listing: key("acme-sync"), Publish: false, At: &deadline}},
			wantErrors:   []string{`PartnerProgram global: this change would break PartnerTier "select": requirements name metrics that are not in the catalog of program "global": training; change the tier first`},
			wantErr:      "the proposed configuration would be refused at admission: 1 error",
		},
		"removing a metric from the catalog with the tier that required it promotes": {
			proposed:     Configuration{Programs: []v1alpha1.PartnerProgram{*withoutTraining}, Tiers: []v1alpha1.PartnerTier{selectOnRevenue}},
			maxDemotions: 0,
			want:         []PartnerChange{{Partner: key("orbit"), Kind: ChangePromotion, From: "registered", To: "select", Gained: []string{"List"}}},
			wantListings: []ListingChange{{Listing: key("orbit-sync"), Publish: true}},
			wantSummary:  "Summary: 3 partners evaluated, 1 promotion, 0 demotions (0 at risk now, 0 drop now), 0 listings unpublished (0 now, 0 at a demotion deadline), 1 published",
		},
		"a new tier promotes": {
			proposed:     Configuration{Tiers: []v1alpha1.PartnerTier{advanced}},
			maxDemotions: 0,
			want:         []PartnerChange{{Partner: key("nimbus"), Kind: ChangePromotion, From: "select", To: "advanced", Gained: []string{"Implement"}}},
			wantSummary:  "Summary: 3 partners evaluated, 1 promotion, 0 demotions (0 at risk now, 0 drop now), 0 listings unpublished (0 now, 0 at a demotion deadline), 0 published",
		},
		"an invalid proposed tier errors": {
			proposed:     Configuration{Tiers: []v1alpha1.PartnerTier{enablementOnly, sameRank}},
			maxDemotions: -1,
			want:         []PartnerChange{{Partner: key("orbit"), Kind: ChangePromotion, From: "registered", To: "silver", Lost: []string{"Resell"}}},
			wantErrors: []string{
				`PartnerTier gold: tier "gold" has rank 3 but requires no Outcome metric; tiers above rank 0 are earned by outcomes, never by enablement alone`,
				`PartnerTier silver: PartnerTier "select" of program "global" already has rank 1; each tier of a program needs its own rank`,
			},
			wantErr: "the proposed configuration would be refused at admission: 2 errors",
		},
		"the max-demotions gate fails the change": {
			proposed:     Configuration{Tiers: []v1alpha1.PartnerTier{selectAbove("1000", nil)}},
			maxDemotions: 1,
			want: []PartnerChange{
				{Partner: key("acme"), Kind: ChangeAtRisk, From: "select", To: "registered", Deadline: &deadline, Lost: []string{"List"}},
				{Partner: key("nimbus"), Kind: ChangeAtRisk, From: "select", To: "registered", Deadline: &deadline, Lost: []string{"List"}},
			},
			wantListings: []ListingChange{{Listing: key("acme-sync"), Publish: false, At: &deadline}},
			wantErr:      "the change demotes 2 partners, more than --max-demotions 1",
		},
		"the max-demotions gate lets as many demotions pass": {
			proposed:     Configuration{Tiers: []v1alpha1.PartnerTier{selectAbove("1000", nil)}},
			maxDemotions: 2,
			want: []PartnerChange{
				{Partner: key("acme"), Kind: ChangeAtRisk, From: "select", To: "registered", Deadline: &deadline, Lost: []string{"List"}},
				{Partner: key("nimbus"), Kind: ChangeAtRisk, From: "select", To: "registered", Deadline: &deadline, Lost: []string{"List"}},
			},
			wantListings: []ListingChange{{Listing: key("acme-sync"), Publish: false, At: &deadline}},
		},
		"a tier of another program evaluates no partner": {
			proposed:     Configuration{Tiers: []v1alpha1.PartnerTier{{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: v1alpha1.PartnerTierSpec{Program: "other"}}}},
			maxDemotions: 0,
			wantSummary:  "Summary: 0 partners evaluated, 0 promotions, 0 demotions (0 at risk now, 0 drop now), 0 listings unpublished (0 now, 0 at a demotion deadline), 0 published",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in := SimulationInput{Now: now, Live: live, Proposed: tt.proposed, Partners: partners, Listings: listings, MaxDemotions: tt.maxDemotions}
			r := Simulate(in)
			if got := summarize(r.Changes); got != summarize(tt.want) {
				t.Errorf("changes:\n got %s\nwant %s", got, summarize(tt.want))
			}
			if got, want := summarizeListings(r.Listings), summarizeListings(tt.wantListings); got != want {
				t.Errorf("listings:\n got %s\nwant %s", got, want)
			}
			if got, want := strings.Join(r.Errors, "\n"), strings.Join(tt.wantErrors, "\n"); got != want {
				t.Errorf("errors:\n got %s\nwant %s", got, want)
			}
			err := r.Err()
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("Err() = %v, want %q", err, tt.wantErr)
			}
			if tt.wantSummary != "" && r.Summary() != tt.wantSummary {
				t.Errorf("summary:\n got %s\nwant %s", r.Summary(), tt.wantSummary)
			}
			// The live partners, listings and configuration are not modified.
			if partners[0].Status.Tier != "select" || live.Tiers[1].Spec.Requirements[0].Threshold != "100" {
				t.Errorf("Simulate modified its input")
			}
		})
	}
}

func key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: "partners", Name: name}
}

func summarize(cs []PartnerChange) string {
	var b strings.Builder
	for _, c := range cs {
		d := "-"
		if c.Deadline != nil {
			d = c.Deadline.UTC().Format(time.RFC3339)
		}
		b.WriteString(strings.Join([]string{c.Partner.String(), string(c.Kind), c.From, c.To, d, joinOrNone(c.Lost), joinOrNone(c.Gained)}, " | ") + "; ")
	}
	return b.String()
}

func summarizeListings(ls []ListingChange) string {
	var b strings.Builder
	for _, l := range ls {
		at := "now"
		if l.At != nil {
			at = l.At.UTC().Format(time.RFC3339)
		}
		b.WriteString(strings.Join([]string{l.Listing.String(), yesNo(l.Publish), at}, " | ") + "; ")
	}
	return b.String()
}

func TestWriteSimulation(t *testing.T) {
	live := simLive()
	fresh := now.Add(-2 * time.Hour)
	acme := simPartner(t, "acme", live, entry("revenue", "150", crmVia, fresh), entry("training", "7", lmsVia, fresh))
	l := simListing("acme-sync", "acme")
	l.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionPublished, Status: metav1.ConditionTrue}}
	sel := *live.Tiers[1].DeepCopy()
	sel.Spec.Requirements[0].Threshold = "200"
	r := Simulate(SimulationInput{Now: now, Live: live, Proposed: Configuration{Tiers: []v1alpha1.PartnerTier{sel}},
		Partners: []v1alpha1.Partner{acme}, Listings: []v1alpha1.Listing{l}, MaxDemotions: 0})
	r.Notes = append(r.Notes, "proposed/cm.yaml: ignored ConfigMap settings: simulate reads only PartnerProgram, PartnerTier and ReviewPath")
	var out bytes.Buffer
	if err := writeSimulation(&out, r, "proposed", "partners"); err != nil {
		t.Fatal(err)
	}
	want := `Simulating proposed against the live partners of namespace partners at 2026-11-23T12:00:00Z
  note: proposed/cm.yaml: ignored ConfigMap settings: simulate reads only PartnerProgram, PartnerTier and ReviewPath

Tier changes:
  PARTNER        PROGRAM  FROM    TO          CHANGE                  EFFECT
  partners/acme  global   select  registered  demotion (at risk now)  TierAtRisk=True now (qualifies for registered); would drop to registered on 2026-12-23T12:00:00Z unless evidence recovers

Entitlements:
  PARTNER        LOST  GAINED  WHEN
  partners/acme  List  -       at the demotion deadline 2026-12-23T12:00:00Z (in 30d), unless evidence recovers

Listings:
  LISTING             PARTNER  CHANGE     WHEN                                                                              REASON
  partners/acme-sync  acme     unpublish  at the demotion deadline 2026-12-23T12:00:00Z (in 30d), unless evidence recovers  partner acme does not hold the List entitlement (tier "registered")

Summary: 1 partner evaluated, 0 promotions, 1 demotion (1 at risk now, 0 drop now), 1 listing unpublished (0 now, 1 at a demotion deadline), 0 published
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if err := r.Err(); err == nil || err.Error() != "the change demotes 1 partner, more than --max-demotions 0" {
		t.Errorf("Err() = %v", err)
	}
}

func TestWriteSimulationPrune(t *testing.T) {
	live := simLive()
	fresh := now.Add(-2 * time.Hour)
	acme := simPartner(t, "acme", live, entry("revenue", "150", crmVia, fresh), entry("training", "7", lmsVia, fresh))
	live.ReviewPaths = []v1alpha1.ReviewPath{{ObjectMeta: metav1.ObjectMeta{Name: "funds"}}}
	proposed := Configuration{Tiers: []v1alpha1.PartnerTier{live.Tiers[0]}, ReviewPaths: []v1alpha1.ReviewPath{{ObjectMeta: metav1.ObjectMeta{Name: "exceptions"}}}}
	r := Simulate(SimulationInput{Now: now, Live: live, Proposed: proposed, Partners: []v1alpha1.Partner{acme}, MaxDemotions: -1, Prune: true})
	var out bytes.Buffer
	if err := writeSimulation(&out, r, "proposed", "partners"); err != nil {
		t.Fatal(err)
	}
	want := `Simulating proposed against the live partners of namespace partners at 2026-11-23T12:00:00Z
  note: ReviewPath exceptions: review paths decide exception requests, not tiers; it changes no evaluation

Deletions (--prune: live objects of the proposed kinds missing from proposed):
  KIND         NAME    ADMISSION
  PartnerTier  select  refused: PartnerTier "select" is held by 1 Partner; set spec.retired: true to drain it (holders keep it for its demotion grace period, nobody new qualifies), then delete it once none holds it
  ReviewPath   funds   allowed

Tier changes:
  PARTNER        PROGRAM  FROM    TO          CHANGE                EFFECT
  partners/acme  global   select  registered  demotion (drops now)  drops to registered now

Entitlements:
  PARTNER        LOST  GAINED  WHEN
  partners/acme  List  -       now

Listings:
  none

Summary: 1 partner evaluated, 0 promotions, 1 demotion (0 at risk now, 1 drop now), 0 listings unpublished (0 now, 0 at a demotion deadline), 0 published, 2 deletions (1 refused)
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	wantErr := `--prune deletes PartnerTier select, which admission would refuse: PartnerTier "select" is held by 1 Partner; ` +
		`set spec.retired: true to drain it (holders keep it for its demotion grace period, nobody new qualifies), then delete it once none holds it`
	if err := r.Err(); err == nil || err.Error() != wantErr {
		t.Errorf("Err() = %v, want %s", err, wantErr)
	}

	// Without --prune nothing is deleted and the output has no deletions.
	r = Simulate(SimulationInput{Now: now, Live: live, Proposed: proposed, Partners: []v1alpha1.Partner{acme}, MaxDemotions: -1})
	out.Reset()
	if err := writeSimulation(&out, r, "proposed", "partners"); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "Deletions") || strings.Contains(s, "deletion") || !strings.Contains(s, "Tier changes:\n  none\n") {
		t.Errorf("without --prune:\n%s", s)
	}
	if err := r.Err(); err != nil {
		t.Errorf("without --prune: Err() = %v", err)
	}
}

func TestLoadProposed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tiers.yaml", `apiVersion: governance.partnergov.io/v1alpha1
kind: PartnerTier
metadata: {name: select}
spec:
  program: global
  rank: 1
  requirements:
  - {metric: revenue, operator: GreaterThanOrEqual, threshold: "200"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
`)
	write("program.yml", `apiVersion: governance.partnergov.io/v1alpha1
kind: PartnerProgram
metadata: {name: global}
spec: {owner: o@example.com, metrics: []}
---
apiVersion: governance.partnergov.io/v1alpha1
kind: ReviewPath
metadata: {name: funds}
spec: {appliesTo: {types: [Funds]}, stages: []}
`)
	write("notes.txt", "not yaml: [")
	cfg, notes, err := LoadProposed(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Programs) != 1 || len(cfg.Tiers) != 1 || len(cfg.ReviewPaths) != 1 || cfg.Tiers[0].Spec.Requirements[0].Threshold != "200" {
		t.Errorf("got %+v", cfg)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "tiers.yaml: ignored ConfigMap settings") {
		t.Errorf("notes = %q", notes)
	}

	// A kustomization lists the resources to read.
	write("kustomization.yaml", "resources: [tiers.yaml]\n")
	cfg, _, err = LoadProposed(dir)
	if err != nil || len(cfg.Programs) != 0 || len(cfg.Tiers) != 1 {
		t.Errorf("with a kustomization: %+v, %v", cfg, err)
	}

	empty := t.TempDir()
	if _, _, err := LoadProposed(empty); err == nil || !strings.Contains(err.Error(), "holds no PartnerProgram, PartnerTier or ReviewPath") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestSimulatePrune(t *testing.T) {
	live := simLive()
	fresh := now.Add(-2 * time.Hour)
	partners := []v1alpha1.Partner{
		simPartner(t, "acme", live, entry("revenue", "150", crmVia, fresh), entry("training", "7", lmsVia, fresh)),
		simPartner(t, "nimbus", live, entry("revenue", "300", crmVia, fresh), entry("training", "9", lmsVia, fresh)),
		simPartner(t, "orbit", live, entry("revenue", "150", crmVia, fresh)), // no training: registered
	}
	if partners[0].Status.Tier != "select" || partners[1].Status.Tier != "select" || partners[2].Status.Tier != "registered" {
		t.Fatalf("fixture: acme holds %q, nimbus %q, orbit %q", partners[0].Status.Tier, partners[1].Status.Tier, partners[2].Status.Tier)
	}
	// A holder of select in another namespace, outside the evaluated partners.
	elsewhere := *partners[0].DeepCopy()
	elsewhere.Namespace = "emea"
	listings := []v1alpha1.Listing{simListing("acme-sync", "acme")}
	listings[0].Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionPublished, Status: metav1.ConditionTrue}}

	registered, sel := *live.Tiers[0].DeepCopy(), *live.Tiers[1].DeepCopy()
	// gold is a live tier nobody qualifies for, so nobody holds it.
	gold := testTier("gold", 2, req("revenue", v1alpha1.OperatorGreaterThanOrEqual, "1000"))
	gold.Spec.Entitlements = v1alpha1.Entitlements{Resell: true, List: true, Implement: true}
	// silver takes the rank of select, requiring revenue only.
	silver := testTier("silver", 1, req("revenue", v1alpha1.OperatorGreaterThanOrEqual, "100"))
	silver.Spec.Entitlements = v1alpha1.Entitlements{Resell: true, List: true}
	other := testProgram()
	other.Name = "other"
	otherTier := testTier("other-entry", 0)
	otherTier.Spec.Program = "other"
	path := func(name string) v1alpha1.ReviewPath {
		return v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	withPaths := func(c Configuration, paths ...string) Configuration {
		for _, p := range paths {
			c.ReviewPaths = append(c.ReviewPaths, path(p))
		}
		return c
	}
	heldBy := func(n string) string {
		return `PartnerTier "select" is held by ` + n + `; set spec.retired: true to drain it (holders keep it for its demotion grace period, nobody new qualifies), then delete it once none holds it`
	}

	tests := map[string]struct {
		live        Configuration
		proposed    Configuration
		prune       bool
		all         []v1alpha1.Partner
		want        []PartnerChange // compared on Partner, Kind, From, To, Deadline, Lost, Gained
		wantDeleted string          // "Kind Name: refusal" lines
		wantErr     string
		wantSummary string
	}{
		"without --prune a tier missing from the files stays": {
			live: live, proposed: Configuration{Tiers: []v1alpha1.PartnerTier{registered}},
			wantSummary: "Summary: 3 partners evaluated, 0 promotions, 0 demotions (0 at risk now, 0 drop now), 0 listings unpublished (0 now, 0 at a demotion deadline), 0 published",
		},
		"--prune deletes a held tier missing from the files, simulates it and refuses it": {
			live: live, proposed: Configuration{Tiers: []v1alpha1.PartnerTier{registered}}, prune: true,
			// The controller would drop the holders at once were the deletion admitted.
			want: []PartnerChange{
				{Partner: key("acme"), Kind: ChangeDrop, From: "select", To: "registered", Lost: []string{"List"}},
				{Partner: key("nimbus"), Kind: ChangeDrop, From: "select", To: "registered", Lost: []string{"List"}},
			},
			wantDeleted: "PartnerTier select: " + heldBy("2 Partners"),
			wantErr:     "--prune deletes PartnerTier select, which admission would refuse: " + heldBy("2 Partners"),
			wantSummary: "Summary: 3 partners evaluated, 0 promotions, 2 demotions (0 at risk now, 2 drop now), 1 listing unpublished (1 now, 0 at a demotion deadline), 0 published, 1 deletion (1 refused)",
		},
		"holders in every namespace are counted": {
			live: live, proposed: Configuration{Tiers: []v1alpha1.PartnerTier{registered}}, prune: true,
			all: append([]v1alpha1.Partner{elsewhere}, partners...),
			want: []PartnerChange{
				{Partner: key("acme"), Kind: ChangeDrop, From: "select", To: "registered", Lost: []string{"List"}},
				{Partner: key("nimbus"), Kind: ChangeDrop, From: "select", To: "registered", Lost: []string{"List"}},
			},
			wantDeleted: "PartnerTier select: " + heldBy("3 Partners"),
			wantErr:     "--prune deletes PartnerTier select, which admission would refuse: " + heldBy("3 Partners"),
		},
		"--prune lets a new tier take the rank of the deleted one": {
			live: live, proposed: Configuration{Tiers: []v1alpha1.PartnerTier{registered, silver}}, prune: true,
			want: []PartnerChange{
				{Partner: key("acme"), Kind: ChangeSameRank, From: "select", To: "silver"},
				{Partner: key("nimbus"), Kind: ChangeSameRank, From: "select", To: "silver"},
				{Partner: key("orbit"), Kind: ChangePromotion, From: "registered", To: "silver", Gained: []string{"List"}},
			},
			wantDeleted: "PartnerTier select: " + heldBy("2 Partners"),
			wantErr:     "--prune deletes PartnerTier select, which admission would refuse: " + heldBy("2 Partners"),
		},
		"--prune deletes a tier nobody holds and allows it": {
			live:     Configuration{Programs: live.Programs, Tiers: []v1alpha1.PartnerTier{registered, sel, gold}},
			proposed: Configuration{Tiers: []v1alpha1.PartnerTier{registered, sel}}, prune: true,
			wantDeleted: "PartnerTier gold: allowed",
			wantSummary: "Summary: 3 partners evaluated, 0 promotions, 0 demotions (0 at risk now, 0 drop now), 0 listings unpublished (0 now, 0 at a demotion deadline), 0 published, 1 deletion (0 refused)",
		},
		"--prune deletes only kinds the files hold": {
			live:     withPaths(Configuration{Programs: []v1alpha1.PartnerProgram{*testProgram(), *other}, Tiers: []v1alpha1.PartnerTier{registered, sel, otherTier}}, "funds"),
			proposed: Configuration{Programs: []v1alpha1.PartnerProgram{*testProgram()}}, prune: true,
			// other has a tier: the tiers are not pruned (the files hold none), so its deletion is refused.
			wantDeleted: `PartnerProgram other: PartnerProgram "other" is referenced by 1 PartnerTier; move or delete it first`,
			wantErr:     `--prune deletes PartnerProgram other, which admission would refuse: PartnerProgram "other" is referenced by 1 PartnerTier; move or delete it first`,
		},
		"--prune deletes a program with its tiers and a review path": {
			live:        withPaths(Configuration{Programs: []v1alpha1.PartnerProgram{*testProgram(), *other}, Tiers: []v1alpha1.PartnerTier{registered, sel, otherTier}}, "funds", "promotions"),
			proposed:    withPaths(Configuration{Programs: []v1alpha1.PartnerProgram{*testProgram()}, Tiers: []v1alpha1.PartnerTier{registered, sel}}, "promotions"),
			prune:       true,
			wantDeleted: "PartnerProgram other: allowed; PartnerTier other-entry: allowed; ReviewPath funds: allowed",
		},
		"--prune refuses to delete a program partners name": {
			live:     Configuration{Programs: []v1alpha1.PartnerProgram{*testProgram(), *other}, Tiers: []v1alpha1.PartnerTier{registered, sel}},
			proposed: Configuration{Programs: []v1alpha1.PartnerProgram{*other}}, prune: true,
			// Without its program a partner keeps its tier (ProgramNotFound): no tier change.
			wantDeleted: `PartnerProgram global: PartnerProgram "global" is referenced by 2 PartnerTiers and 3 Partners; move or delete them first`,
			wantErr:     `--prune deletes PartnerProgram global, which admission would refuse: PartnerProgram "global" is referenced by 2 PartnerTiers and 3 Partners; move or delete them first`,
			wantSummary: "Summary: 3 partners evaluated, 0 promotions, 0 demotions (0 at risk now, 0 drop now), 0 listings unpublished (0 now, 0 at a demotion deadline), 0 published, 1 deletion (1 refused)",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in := SimulationInput{Now: now, Live: tt.live, Proposed: tt.proposed, Partners: partners, Listings: listings,
				MaxDemotions: -1, Prune: tt.prune, AllPartners: tt.all}
			r := Simulate(in)
			if got := summarize(r.Changes); got != summarize(tt.want) {
				t.Errorf("changes:\n got %s\nwant %s", got, summarize(tt.want))
			}
			var deleted []string
			for _, d := range r.Deletions {
				verdict := "allowed"
				if d.Refusal != "" {
					verdict = d.Refusal
				}
				deleted = append(deleted, d.Kind+" "+d.Name+": "+verdict)
			}
			if got := strings.Join(deleted, "; "); got != tt.wantDeleted {
				t.Errorf("deletions:\n got %s\nwant %s", got, tt.wantDeleted)
			}
			if r.Pruned != tt.prune {
				t.Errorf("Pruned = %v, want %v", r.Pruned, tt.prune)
			}
			if len(r.Errors) > 0 {
				t.Errorf("errors: %q", r.Errors)
			}
			err := r.Err()
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("Err() = %v, want %q", err, tt.wantErr)
			}
			if tt.wantSummary != "" && r.Summary() != tt.wantSummary {
				t.Errorf("summary:\n got %s\nwant %s", r.Summary(), tt.wantSummary)
			}
			if len(tt.live.Tiers) != len(tt.live.Tiers[:]) || partners[0].Status.Tier != "select" || len(live.Tiers) != 2 {
				t.Errorf("Simulate modified its input")
			}
		})
	}
}
