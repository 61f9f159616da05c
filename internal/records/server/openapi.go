package server

import (
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	openapicommon "k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"

	recordsopenapi "github.com/partnergov/partnergov/internal/records/server/openapi"
)

// definitionName names the OpenAPI schema of a generated definition as the
// scheme names its type (com.github.partnergov.partnergov.api.records.v1alpha1.DecisionRecord),
// with the type's group, version and kind, which server-side apply and
// kubectl look types up by. The records' API package has no generated model
// names of its own, so the Go path openapi-gen keys it by is made REST-friendly
// here; the scheme's internal version of the types is left out.
func definitionName() func(string) (string, spec.Extensions) {
	namer := openapi.NewDefinitionNamer(Scheme)
	return func(name string) (string, spec.Extensions) {
		name, ext := namer.GetDefinitionName(util.ToRESTFriendlyName(name))
		if gvks, ok := ext["x-kubernetes-group-version-kind"].([]any); ok {
			var kept []any
			for _, g := range gvks {
				if m, ok := g.(map[string]any); ok && m["version"] == "__internal" {
					continue
				}
				kept = append(kept, g)
			}
			ext["x-kubernetes-group-version-kind"] = kept
		}
		return name, ext
	}
}

// openAPIConfigs are the server's OpenAPI v2 and v3 configurations.
func openAPIConfigs() (*openapicommon.Config, *openapicommon.OpenAPIV3Config) {
	name := definitionName()
	namer := openapi.NewDefinitionNamer(Scheme)
	v2 := genericapiserver.DefaultOpenAPIConfig(recordsopenapi.GetOpenAPIDefinitions, namer)
	v2.GetDefinitionName = name
	v2.Info.Title, v2.Info.Version = "partnergov records", "v1alpha1"
	v3 := genericapiserver.DefaultOpenAPIV3Config(recordsopenapi.GetOpenAPIDefinitions, namer)
	v3.GetDefinitionName = name
	v3.Definitions = recordsopenapi.GetOpenAPIDefinitions(func(n string) spec.Ref {
		defName, _ := name(n)
		return spec.MustCreateRef("#/components/schemas/" + openapicommon.EscapeJsonPointer(defName))
	})
	v3.Info.Title, v3.Info.Version = "partnergov records", "v1alpha1"
	return v2, v3
}
