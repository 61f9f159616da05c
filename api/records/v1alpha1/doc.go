// +k8s:openapi-gen=true

// The tag above has openapi-gen (make generate) write the records server's
// OpenAPI definitions of these types (internal/records/server/openapi).

package v1alpha1
