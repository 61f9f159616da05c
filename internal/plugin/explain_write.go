package plugin

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// writeExplanation prints e as aligned text.
func writeExplanation(w io.Writer, e *Explanation) error {
	p, st, now := e.Partner, e.Partner.Status, e.Now
	head := newTable(w)
	fmt.Fprintf(head, "Partner:\t%s/%s (%s, program %s)\n", p.Namespace, p.Name, p.Spec.Type, p.Spec.Program)
	if e.Program == nil {
		fmt.Fprintf(head, "Program:\tnot found: the tier and entitlements are left as they were\n")
	}
	held := "none"
	if st.Tier != "" {
		held = st.Tier
		if st.TierRank != nil {
			held += fmt.Sprintf(" (rank %d)", *st.TierRank)
		}
		held += ", since " + timestamp(st.TierSince, now)
	}
	if lc := st.Lifecycle; lc != nil {
		fmt.Fprintf(head, "Phase:\t%s\n", phaseText(lc, now))
	}
	fmt.Fprintf(head, "Tier:\t%s\n", held)
	fmt.Fprintf(head, "Qualified tier:\t%s\n", orNone(st.QualifiedTier))
	if p.Spec.Suspended {
		fmt.Fprintf(head, "Suspended:\tyes: every entitlement is withdrawn\n")
	}
	fmt.Fprintf(head, "Demotion deadline:\t%s\n", deadlineText(e.Demotion, now))
	fmt.Fprintf(head, "Evidence goes stale:\t%s\n", deadlineText(e.Stale, now))
	fmt.Fprintf(head, "Grant expires:\t%s\n", deadlineText(e.GrantExpiry, now))
	fmt.Fprintf(head, "Next deadline:\t%s\n", deadlineText(e.NextDeadline, now))
	if err := head.Flush(); err != nil {
		return err
	}

	if e.Current == nil && st.Tier != "" {
		fmt.Fprintf(w, "\nCurrent tier %s: no longer exists in program %s\n", st.Tier, p.Spec.Program)
	}
	for _, t := range []struct {
		role string
		te   *TierExplanation
	}{{"Current tier", e.Current}, {"Next tier", e.Next}} {
		if t.te == nil {
			continue
		}
		if err := writeTier(w, t.role, t.te, now); err != nil {
			return err
		}
	}
	if e.Next == nil {
		fmt.Fprintf(w, "\nNext tier: none (no tier of program %s ranks higher)\n", p.Spec.Program)
	}

	if err := writeLifecycle(w, st.Lifecycle, now); err != nil {
		return err
	}
	if err := writeEnablement(w, st); err != nil {
		return err
	}
	if err := writePlans(w, e.Plans, now); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nExceptions in force (status.grants):\n")
	if len(st.Grants) == 0 {
		fmt.Fprintf(w, "  none\n")
	} else {
		tw := newTable(w)
		fmt.Fprintf(tw, "  REQUEST\tTYPE\tEXPIRES\n")
		for _, g := range st.Grants {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", g.Request, g.Type, timestamp(g.Expires, now))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\nEntitlements:\n")
	if len(st.Entitlements) == 0 {
		fmt.Fprintf(w, "  none\n")
		return nil
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "  NAME\tDETAIL\tSOURCE\tEXPIRES\n")
	for _, ent := range st.Entitlements {
		fmt.Fprintf(tw, "  %s\t%s\t%s %s\t%s\n", ent.Name, entitlementDetail(ent), ent.Source.Kind, ent.Source.Name, timestamp(ent.Expires, now))
	}
	return tw.Flush()
}

// writeTier prints one tier's requirements and how the evidence meets them.
func writeTier(w io.Writer, role string, te *TierExplanation, now time.Time) error {
	t := te.Tier
	verdict := "all requirements met"
	switch unmet := countUnmet(te.Requirements); {
	case te.Problem != "":
		verdict = "cannot be earned: " + te.Problem
	case len(t.Spec.Requirements) == 0:
		verdict = "no requirements: every partner of the program meets it"
	case unmet > 0:
		verdict = fmt.Sprintf("%d of %d requirements not met", unmet, len(te.Requirements))
	}
	if t.Spec.PromotionReviewPath != "" {
		verdict += fmt.Sprintf("; promotion needs an approved TierPromotion under review path %s", t.Spec.PromotionReviewPath)
	}
	if t.Spec.RequiresBusinessPlan {
		verdict += "; requires an approved, current joint business plan"
	}
	fmt.Fprintf(w, "\n%s %s (rank %d): %s\n", role, t.Name, t.Spec.Rank, verdict)
	if len(te.Requirements) == 0 {
		return nil
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "  METRIC\tREQUIREMENT\tMET\tVALUE\tSOURCE\tAGE\tEVIDENCE\n")
	for _, r := range te.Requirements {
		value, source, observed := none, none, none
		if ev := r.Evidence; ev != nil {
			value, source, observed = string(ev.Value), orNone(ev.Source), age(ev.ObservedAt.Time, now)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Metric, requirementText(r.Operator, r.Threshold),
			yesNo(r.Met), value, source, observed, r.State)
	}
	return tw.Flush()
}

func countUnmet(reqs []RequirementCheck) int {
	n := 0
	for _, r := range reqs {
		if !r.Met {
			n++
		}
	}
	return n
}

// deadlineText prints a deadline, or "-".
func deadlineText(d *Deadline, now time.Time) string {
	if d == nil {
		return none
	}
	return fmt.Sprintf("%s (%s): %s", d.At.UTC().Format(time.RFC3339), relative(d.At, now), d.What)
}

// entitlementDetail prints an entitlement's segments or cap, or "-".
func entitlementDetail(e v1alpha1.EffectiveEntitlement) string {
	var parts []string
	if len(e.Segments) > 0 {
		parts = append(parts, "segments "+strings.Join(e.Segments, ","))
	}
	if e.Cap != nil {
		parts = append(parts, fmt.Sprintf("cap %s %s/quarter", e.Cap.Amount, e.Cap.Currency))
	}
	if len(parts) == 0 {
		return none
	}
	return strings.Join(parts, "; ")
}

// phaseText is the partner's lifecycle phase, since when and why.
func phaseText(lc *v1alpha1.PartnerLifecycle, now time.Time) string {
	text := string(lc.Phase)
	if lc.Since != nil {
		text += ", since " + timestamp(lc.Since, now)
	}
	if lc.Reason != "" {
		text += " (" + lc.Reason + ")"
	}
	return text
}

// writeLifecycle prints the onboarding steps and why the partner is on probation.
func writeLifecycle(w io.Writer, lc *v1alpha1.PartnerLifecycle, now time.Time) error {
	if lc == nil {
		return nil
	}
	if len(lc.Onboarding) > 0 {
		fmt.Fprintf(w, "\nOnboarding steps (status.lifecycle.onboarding):\n")
		tw := newTable(w)
		fmt.Fprintf(tw, "  STEP\tSTATE\tDUE\tMET AT\n")
		for _, s := range lc.Onboarding {
			due := s.Due
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Name, s.State, timestamp(&due, now), timestamp(s.MetAt, now))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(lc.ProbationReasons) > 0 {
		fmt.Fprintf(w, "\nOn probation:\n")
		for _, r := range lc.ProbationReasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		withheld := "nothing (the program's probation withholds nothing the partner holds)"
		if len(lc.Withheld) > 0 {
			names := make([]string, len(lc.Withheld))
			for i, n := range lc.Withheld {
				names[i] = string(n)
			}
			withheld = strings.Join(names, ", ")
		}
		fmt.Fprintf(w, "  withheld: %s\n", withheld)
	}
	return nil
}
