package server

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/internal/records/pgstore"
)

var (
	// Scheme holds the records API's types.
	Scheme = newScheme()
	// Codecs serve the records API.
	Codecs = serializer.NewCodecFactory(Scheme)
)

// GroupResource is the records' group and resource.
var GroupResource = recordsv1alpha1.GroupVersion.WithResource("decisionrecords").GroupResource()

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	gv := recordsv1alpha1.GroupVersion
	utilruntime.Must(recordsv1alpha1.AddToScheme(s))
	// The server has no internal version of its own: the external types
	// serve as it, as metrics-server and reports-server do.
	s.AddKnownTypes(schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal},
		&recordsv1alpha1.DecisionRecord{}, &recordsv1alpha1.DecisionRecordList{})
	utilruntime.Must(s.SetVersionPriority(gv))
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	s.AddUnversionedTypes(unversioned, &metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{},
		&metav1.APIGroup{}, &metav1.APIResourceList{})
	// The fields a record is selected by, as the CRD's selectableFields.
	utilruntime.Must(s.AddFieldLabelConversionFunc(gv.WithKind("DecisionRecord"), func(label, value string) (string, string, error) {
		if _, ok := pgstore.SelectableFields[label]; ok {
			return label, value, nil
		}
		return "", "", fmt.Errorf("field label %q is not supported for DecisionRecords: select by metadata.name, metadata.namespace, spec.partner or spec.type", label)
	}))
	return s
}
