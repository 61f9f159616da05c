package plugin

import (
	"fmt"
	"io"
	"time"
)

// writeSimulation prints a simulation report as aligned text.
func writeSimulation(w io.Writer, r *SimulationReport, source, namespace string) error {
	scope := "every namespace"
	if namespace != "" {
		scope = "namespace " + namespace
	}
	fmt.Fprintf(w, "Simulating %s against the live partners of %s at %s\n", source, scope, r.Now.UTC().Format(time.RFC3339))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\nErrors (the admission webhooks would refuse these):\n")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  error: %s\n", e)
		}
	}

	if r.Pruned {
		fmt.Fprintf(w, "\nDeletions (--prune: live objects of the proposed kinds missing from %s):\n", source)
		if len(r.Deletions) == 0 {
			fmt.Fprintf(w, "  none\n")
		} else {
			tw := newTable(w)
			fmt.Fprintf(tw, "  KIND\tNAME\tADMISSION\n")
			for _, d := range r.Deletions {
				verdict := "allowed"
				if d.Refusal != "" {
					verdict = "refused: " + d.Refusal
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", d.Kind, d.Name, verdict)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}

	fmt.Fprintf(w, "\nTier changes:\n")
	if len(r.Changes) == 0 {
		fmt.Fprintf(w, "  none\n")
	} else {
		tw := newTable(w)
		fmt.Fprintf(tw, "  PARTNER\tPROGRAM\tFROM\tTO\tCHANGE\tEFFECT\n")
		for _, c := range r.Changes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Partner, c.Program, orNone(c.From), orNone(c.To), c.Kind, c.Detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\nEntitlements:\n")
	tw := newTable(w)
	fmt.Fprintf(tw, "  PARTNER\tLOST\tGAINED\tWHEN\n")
	rows := 0
	for _, c := range r.Changes {
		if len(c.Lost) == 0 && len(c.Gained) == 0 {
			continue
		}
		rows++
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Partner, joinOrNone(c.Lost), joinOrNone(c.Gained), when(c.Deadline, r.Now))
	}
	if rows == 0 {
		fmt.Fprintf(w, "  none\n")
	} else if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nListings:\n")
	if len(r.Listings) == 0 {
		fmt.Fprintf(w, "  none\n")
	} else {
		tw := newTable(w)
		fmt.Fprintf(tw, "  LISTING\tPARTNER\tCHANGE\tWHEN\tREASON\n")
		for _, l := range r.Listings {
			change := "unpublish"
			if l.Publish {
				change = "publish"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", l.Listing, l.Partner, change, when(l.At, r.Now), l.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	_, err := fmt.Fprintf(w, "\n%s\n", r.Summary())
	return err
}

// when says "now", or at which demotion deadline.
func when(at *time.Time, now time.Time) string {
	if at == nil {
		return "now"
	}
	return fmt.Sprintf("at the demotion deadline %s (%s), unless evidence recovers", at.UTC().Format(time.RFC3339), relative(*at, now))
}

// Summary is the report's one-line summary.
func (r *SimulationReport) Summary() string {
	unpublishedNow, published := 0, 0
	for _, l := range r.Listings {
		switch {
		case l.Publish:
			published++
		case l.At == nil:
			unpublishedNow++
		}
	}
	promotions := plural(r.count(ChangePromotion), "promotion", "promotions")
	if n := r.count(ChangePromotionPending); n > 0 {
		promotions += fmt.Sprintf(" (+%d pending review)", n)
	}
	s := fmt.Sprintf("Summary: %s evaluated, %s, %s (%d at risk now, %d drop now), %s unpublished (%d now, %d at a demotion deadline), %d published",
		plural(r.Evaluated, "partner", "partners"), promotions,
		plural(r.Demotions(), "demotion", "demotions"), r.count(ChangeAtRisk), r.count(ChangeDrop),
		plural(r.Unpublished(), "listing", "listings"), unpublishedNow, r.Unpublished()-unpublishedNow, published)
	if len(r.Errors) > 0 {
		s += fmt.Sprintf(", %s", plural(len(r.Errors), "invalid object", "invalid objects"))
	}
	if r.Pruned {
		s += fmt.Sprintf(", %s (%d refused)", plural(len(r.Deletions), "deletion", "deletions"), r.Refused())
	}
	return s
}
