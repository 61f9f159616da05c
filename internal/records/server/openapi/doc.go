// Package openapi holds the OpenAPI definitions of the records API that
// openapi-gen generates (make generate) and the records server serves.
package openapi
