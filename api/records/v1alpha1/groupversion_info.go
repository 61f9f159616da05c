// Package v1alpha1 contains partnergov's decision records: the durable, sealed,
// immutable record of every governance decision. They have an API group of their
// own, records.partnergov.io, so that either a CRD (the default store) or
// partnergov's aggregated records server over PostgreSQL (for programs whose
// history outgrows etcd) can serve them, with no change to any client.
//
// +kubebuilder:object:generate=true
// +groupName=records.partnergov.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "records.partnergov.io", Version: "v1alpha1"}

	// SchemeGroupVersion is GroupVersion under the name k8s.io/apiserver and
	// client-go's API packages use.
	SchemeGroupVersion = GroupVersion

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource is the records resource of this group-version.
func Resource(resource string) schema.GroupResource {
	return GroupVersion.WithResource(resource).GroupResource()
}
