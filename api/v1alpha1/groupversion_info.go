// Package v1alpha1 contains the partnergov API: the partner program's metric catalog,
// its tiers, the partners and their listings, and the review paths and exception
// requests that govern funds and exceptions.
//
// +kubebuilder:object:generate=true
// +kubebuilder:ac:generate=true
// +groupName=governance.partnergov.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "governance.partnergov.io", Version: "v1alpha1"}

	// SchemeGroupVersion is GroupVersion under the name the generated apply
	// configurations (applyconfiguration/utils.go) use, as client-go's API packages spell it.
	SchemeGroupVersion = GroupVersion

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
