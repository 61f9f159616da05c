// Package deploy holds the tests of the install: config/default and
// config/default-certmanager, and with the postgres records store
// config/default-records-postgres and config/default-records-postgres-certmanager,
// rendered by kustomize, dist/chart rendered by Helm with the same choices,
// checked against a real API server, compared with each other, checked for
// wiring, held to least-privilege RBAC, and the manager started with the
// rendered flags.
// Run with `go test ./test/deploy/ -count=1 -v` (needs `make controlplane helm`).
package deploy
