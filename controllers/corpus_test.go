package controllers_test

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/test/testenv"
)

// Annotations of the invalid-input corpus in test/testdata/invalid.
const (
	// annotationExpectError is a substring the refusal must contain: the field and the rule.
	annotationExpectError = "partnergov.io/expect-error"
	// annotationUpdateOf names a manifest in test/testdata/valid: the corpus file is
	// an update of that (already created) object rather than a create.
	annotationUpdateOf = "partnergov.io/update-of"

	corpusNamespace = "corpus"
	minCorpusSize   = 40
)

// TestCorpus submits every manifest of test/testdata/invalid with the admin
// client and checks that the API server (schema, CEL rules and webhooks) refuses
// it with the expected message, and that nothing is stored or changed.
func TestCorpus(t *testing.T) {
	g := NewWithT(t)
	root := filepath.Join(env.Root, "test", "testdata")

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: corpusNamespace}}
	g.Expect(client.IgnoreAlreadyExists(admin.Create(ctx, ns))).To(Succeed())

	// Prerequisites: a program with a catalog, tiers, review paths, a partner and
	// the bases of the update cases, created in file order.
	valid := corpusFiles(t, filepath.Join(root, "valid"))
	g.Expect(valid).NotTo(BeEmpty())
	bases := map[string]*unstructured.Unstructured{}
	for _, f := range valid {
		obj := readSingle(t, f)
		bases[filepath.Base(f)] = obj.DeepCopy()
		err := admin.Create(ctx, obj.DeepCopy())
		g.Expect(client.IgnoreAlreadyExists(err)).To(Succeed(), "prerequisite %s", filepath.Base(f))
	}
	t.Cleanup(func() {
		for i := len(valid) - 1; i >= 0; i-- {
			_ = admin.Delete(ctx, bases[filepath.Base(valid[i])])
		}
	})

	// Some refusals depend on what the controller computed (the partner's funds cap).
	eventually(g, func(g Gomega) {
		var p v1alpha1.Partner
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: corpusNamespace, Name: "corpus-partner"}, &p)).To(Succeed())
		g.Expect(p.Status.Entitlements).To(ContainElement(HaveField("Name", v1alpha1.EntitlementFunds)))
	}).Should(Succeed())

	invalid := corpusFiles(t, filepath.Join(root, "invalid"))
	if len(invalid) < minCorpusSize {
		t.Fatalf("the invalid-input corpus has %d files; it needs at least %d", len(invalid), minCorpusSize)
	}
	rejected := 0
	for _, f := range invalid {
		name := filepath.Base(f)
		obj := readSingle(t, f)
		if t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			checkRefused(t, name, obj, bases)
		}) {
			rejected++
		}
	}
	t.Logf("invalid inputs rejected with the right message: %d of %d", rejected, len(invalid))
	if rejected != len(invalid) {
		t.Errorf("%d corpus files were not refused with the expected message", len(invalid)-rejected)
	}
}

// checkRefused creates (or, for update cases, updates) obj and asserts the refusal.
func checkRefused(t *testing.T, name string, obj *unstructured.Unstructured, bases map[string]*unstructured.Unstructured) {
	g := NewWithT(t)
	want := obj.GetAnnotations()[annotationExpectError]
	g.Expect(want).NotTo(BeEmpty(), "%s needs the annotation %s", name, annotationExpectError)
	key := client.ObjectKeyFromObject(obj)

	baseFile := obj.GetAnnotations()[annotationUpdateOf]
	if baseFile == "" {
		err := admin.Create(ctx, obj.DeepCopy())
		g.Expect(err).To(HaveOccurred(), "%s was admitted", name)
		g.Expect(err.Error()).To(ContainSubstring(want))
		got := newLike(obj)
		err = admin.Get(ctx, key, got)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: nothing is stored (get: %v)", name, err)
		return
	}

	base, ok := bases[baseFile]
	g.Expect(ok).To(BeTrue(), "%s: %s names %s, which is not in test/testdata/valid", name, annotationUpdateOf, baseFile)
	g.Expect(obj.GroupVersionKind()).To(Equal(base.GroupVersionKind()), "%s updates %s", name, baseFile)
	g.Expect(key).To(Equal(client.ObjectKeyFromObject(base)), "%s updates %s", name, baseFile)

	// The controller may write the base's status meanwhile: retry on a conflict
	// so that the update is judged on its content.
	before := newLike(obj)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := admin.Get(ctx, key, before); err != nil {
			return err
		}
		update := obj.DeepCopy()
		update.SetResourceVersion(before.GetResourceVersion())
		return admin.Update(ctx, update)
	})
	g.Expect(err).To(HaveOccurred(), "%s was admitted", name)
	g.Expect(err.Error()).To(ContainSubstring(want))

	after := newLike(obj)
	g.Expect(admin.Get(ctx, key, after)).To(Succeed())
	g.Expect(equality.Semantic.DeepEqual(after.Object["spec"], before.Object["spec"])).To(BeTrue(),
		"%s: the stored spec is unchanged", name)
	g.Expect(after.GetAnnotations()).NotTo(HaveKey(annotationExpectError), "%s: the stored metadata is unchanged", name)
}

func newLike(obj *unstructured.Unstructured) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(obj.GroupVersionKind())
	return u
}

// corpusFiles lists the YAML files of dir in name order.
func corpusFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// readSingle reads a file that must hold exactly one YAML document.
func readSingle(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.Objects(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("%s holds %d objects; a corpus file holds exactly one", file, len(objs))
	}
	return objs[0]
}
