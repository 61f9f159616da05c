package plugin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func simulateCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var dir string
	var maxDemotions int
	var all, prune bool
	cmd := &cobra.Command{
		Use:   "simulate -f DIR [--prune] [--max-demotions N] [-n NAMESPACE | -A]",
		Short: "Dry-run proposed PartnerProgram, PartnerTier and ReviewPath YAML against the live partners, listings and grants",
		Long: `simulate reads proposed PartnerPrograms, PartnerTiers and ReviewPaths from DIR (its *.yaml and *.yml
files, or the resources of its kustomization.yaml), lays them over the live configuration (replacing
objects of the same name), and evaluates every partner of the programs they touch twice, at the same
instant and with the controller's own engines: once with the live configuration, once with the proposed
one. It prints the partners whose tier would change, the entitlements they would lose or gain, and the
listings that would be unpublished or published. A demotion usually starts a grace period (TierAtRisk)
rather than dropping the tier at once: both the immediate effect and the drop at the deadline are shown.

With --prune, DIR is the whole set of each kind it holds, as with kubectl apply --prune: a live
PartnerProgram, PartnerTier or ReviewPath of a kind DIR holds but missing from DIR is simulated as deleted,
and the partners are evaluated without it. Each deletion is checked with the admission webhooks' rules: a
PartnerProgram that PartnerTiers or Partners still name, and a PartnerTier that Partners hold (counted in
every namespace), cannot be deleted. Without --prune, objects missing from DIR stay as they are.

It fails when a proposed object or a --prune deletion would be refused at admission, and when the change
demotes more partners than --max-demotions, so it can gate a pipeline.`,
		Example: `  kubectl partnergov simulate -f config/program -A
  kubectl partnergov simulate -f proposed/ -n partners --max-demotions 0
  kubectl partnergov simulate -f config/program --prune -A   # config/program holds every tier: a tier missing from it is deleted`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("-f DIR is required: the directory holding the proposed YAML")
			}
			proposed, notes, err := LoadProposed(dir)
			if err != nil {
				return err
			}
			c, ns, err := newClient(flags)
			if err != nil {
				return err
			}
			if all {
				ns = ""
			}
			in, err := readLive(cmd.Context(), c, ns)
			if err != nil {
				return err
			}
			in.Now, in.Proposed, in.MaxDemotions = time.Now().Truncate(time.Second), proposed, maxDemotions
			if prune {
				more, err := readPruned(cmd.Context(), c, ns, &in)
				if err != nil {
					return err
				}
				notes = append(notes, more...)
			}
			r := Simulate(in)
			r.Notes = append(notes, r.Notes...)
			if err := writeSimulation(streams.Out, r, dir, ns); err != nil {
				return err
			}
			return r.Err()
		},
	}
	cmd.Flags().StringVarP(&dir, "filename", "f", "", "directory (or file) holding the proposed YAML")
	cmd.Flags().IntVar(&maxDemotions, "max-demotions", -1, "fail when the change demotes more partners than this (at risk now or dropping now); -1 for no limit")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "evaluate the partners of every namespace")
	cmd.Flags().BoolVar(&prune, "prune", false, "treat DIR as the whole set of each kind it holds: simulate deleting live objects of those kinds missing from it")
	return cmd
}

// readPruned sets in.Prune and reads what the deletions need besides readLive:
// the live ReviewPaths when DIR holds any, and the partners of every namespace
// (the deletion rules count holders everywhere) when namespace is not "". When
// listing every namespace's partners is forbidden, the rules count those of
// namespace, and a note says so.
func readPruned(ctx context.Context, c client.Client, namespace string, in *SimulationInput) ([]string, error) {
	in.Prune = true
	if len(in.Proposed.ReviewPaths) > 0 {
		var paths v1alpha1.ReviewPathList
		if err := c.List(ctx, &paths); err != nil {
			return nil, err
		}
		in.Live.ReviewPaths = paths.Items
	}
	if namespace == "" {
		return nil, nil
	}
	var partners v1alpha1.PartnerList
	if err := c.List(ctx, &partners); err != nil {
		if apierrors.IsForbidden(err) {
			return []string{fmt.Sprintf("--prune: the deletion checks count only the partners of namespace %s: listing partners in every namespace is forbidden", namespace)}, nil
		}
		return nil, err
	}
	in.AllPartners = partners.Items
	return nil, nil
}

// readLive reads the live programs, tiers, partners, exception requests and
// listings (the last three in namespace, "" for all).
func readLive(ctx context.Context, c client.Client, namespace string) (SimulationInput, error) {
	var in SimulationInput
	var programs v1alpha1.PartnerProgramList
	var tiers v1alpha1.PartnerTierList
	var partners v1alpha1.PartnerList
	var requests v1alpha1.ExceptionRequestList
	var listings v1alpha1.ListingList
	for _, l := range []struct {
		list client.ObjectList
		opts []client.ListOption
	}{
		{&programs, nil},
		{&tiers, nil},
		{&partners, []client.ListOption{client.InNamespace(namespace)}},
		{&requests, []client.ListOption{client.InNamespace(namespace)}},
		{&listings, []client.ListOption{client.InNamespace(namespace)}},
	} {
		if err := c.List(ctx, l.list, l.opts...); err != nil {
			return in, err
		}
	}
	in.Live = Configuration{Programs: programs.Items, Tiers: tiers.Items}
	in.Partners, in.Requests, in.Listings = partners.Items, requests.Items, listings.Items
	return in, nil
}

// LoadProposed reads the PartnerPrograms, PartnerTiers and ReviewPaths of path: a
// file, a directory's *.yaml and *.yml files (in name order), or the resources of
// a directory's kustomization.yaml. Documents of other kinds are skipped with a note.
func LoadProposed(path string) (Configuration, []string, error) {
	var cfg Configuration
	files, err := proposedFiles(path)
	if err != nil {
		return cfg, nil, err
	}
	var notes []string
	for _, f := range files {
		docs, err := readDocuments(f)
		if err != nil {
			return cfg, nil, err
		}
		for _, u := range docs {
			note, err := addProposed(&cfg, u)
			if err != nil {
				return cfg, nil, fmt.Errorf("%s: %s %s: %w", f, u.GetKind(), u.GetName(), err)
			}
			if note != "" {
				notes = append(notes, fmt.Sprintf("%s: %s", f, note))
			}
		}
	}
	if len(cfg.Programs)+len(cfg.Tiers)+len(cfg.ReviewPaths) == 0 {
		return cfg, notes, fmt.Errorf("%s holds no PartnerProgram, PartnerTier or ReviewPath", path)
	}
	return cfg, notes, nil
}

// proposedFiles lists the files to read for path.
func proposedFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		b, err := os.ReadFile(filepath.Join(path, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var k struct {
			Resources []string `json:"resources"`
		}
		if err := yaml.Unmarshal(b, &k); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(path, name), err)
		}
		var files []string
		for _, r := range k.Resources {
			sub, err := proposedFiles(filepath.Join(path, r))
			if err != nil {
				return nil, fmt.Errorf("%s: resource %s: %w", filepath.Join(path, name), r, err)
			}
			files = append(files, sub...)
		}
		return files, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	slices.Sort(files)
	return files, nil
}

// readDocuments reads every non-empty YAML document of a file.
func readDocuments(file string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// addProposed adds a document of a simulated kind to cfg, or returns a note
// saying why it is skipped.
func addProposed(cfg *Configuration, u *unstructured.Unstructured) (string, error) {
	if u.GroupVersionKind().Group != v1alpha1.GroupVersion.Group {
		return fmt.Sprintf("ignored %s %s: simulate reads only PartnerProgram, PartnerTier and ReviewPath", u.GetKind(), u.GetName()), nil
	}
	if u.GetName() == "" {
		return "", fmt.Errorf("metadata.name is required")
	}
	from := func(obj any) error { return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj) }
	switch u.GetKind() {
	case "PartnerProgram":
		var p v1alpha1.PartnerProgram
		if err := from(&p); err != nil {
			return "", err
		}
		cfg.Programs = replaceByName(cfg.Programs, p, func(p v1alpha1.PartnerProgram) string { return p.Name })
	case "PartnerTier":
		var t v1alpha1.PartnerTier
		if err := from(&t); err != nil {
			return "", err
		}
		cfg.Tiers = replaceByName(cfg.Tiers, t, func(t v1alpha1.PartnerTier) string { return t.Name })
	case "ReviewPath":
		var p v1alpha1.ReviewPath
		if err := from(&p); err != nil {
			return "", err
		}
		cfg.ReviewPaths = replaceByName(cfg.ReviewPaths, p, func(p v1alpha1.ReviewPath) string { return p.Name })
	default:
		return fmt.Sprintf("ignored %s %s: simulate reads only PartnerProgram, PartnerTier and ReviewPath", u.GetKind(), u.GetName()), nil
	}
	return "", nil
}

// replaceByName appends v, replacing an element of the same name (the later
// document wins, as it would when applied).
func replaceByName[T any](s []T, v T, name func(T) string) []T {
	if i := slices.IndexFunc(s, func(e T) bool { return name(e) == name(v) }); i >= 0 {
		s[i] = v
		return s
	}
	return append(s, v)
}
