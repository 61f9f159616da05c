# partnergov — see README.md. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# Control-plane binaries (etcd, kube-apiserver, kubectl) built from their Go modules.
K8S_BIN ?= $(CURDIR)/bin/k8s
KUBEBUILDER_ASSETS ?= $(K8S_BIN)
export KUBEBUILDER_ASSETS
CONTROLLER_GEN := go tool controller-gen
GO_TEST_FLAGS ?= -count=1
IMG ?= partnergov/partnergov:dev
# Helm, built from its Go module (no binary downloads); test/deploy renders dist/chart with it.
HELM := $(CURDIR)/bin/helm
HELM_VERSION ?= v3.22.0
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: manifests
manifests: ## Generate CRDs, RBAC and webhook configurations under config/.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac \
		output:webhook:artifacts:config=config/webhook
	@$(MAKE) --no-print-directory chart-sync

.PHONY: chart-sync
chart-sync: ## Copy the generated CRDs, RBAC role and webhook configurations into the Helm chart (make manifests does).
	rm -f dist/chart/crds/*.yaml
	cp config/crd/bases/*.yaml dist/chart/crds/
	cp config/rbac/role.yaml dist/chart/files/role.yaml
	cp config/webhook/manifests.yaml dist/chart/files/webhooks.yaml

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: ## Fail when gofmt, go vet or generated code and manifests differ from what is committed.
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	go vet ./...
	$(MAKE) generate manifests
	@if [ -n "$$(git status --porcelain -- api config dist/chart)" ]; then \
		echo "generated files are out of date; run 'make generate manifests' and commit:"; \
		git status --porcelain -- api config dist/chart; git diff --stat -- api config dist/chart; exit 1; fi

.PHONY: controlplane
controlplane: $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(K8S_BIN)/kubectl ## Build etcd, kube-apiserver and kubectl into bin/k8s (once).

$(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(K8S_BIN)/kubectl: hack/controlplane/go.mod hack/controlplane/go.sum
	@mkdir -p $(K8S_BIN)
	@echo "building the control plane from its Go modules into $(K8S_BIN) (a cold build takes several minutes)"
	cd hack/controlplane && go build -trimpath -o $(K8S_BIN)/ ./etcd ./kube-apiserver ./kubectl
	@touch $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(K8S_BIN)/kubectl

.PHONY: helm
helm: $(HELM) ## Build Helm from its Go module into bin/helm (once; skipped when it exists).

$(HELM):
	@echo "building Helm $(HELM_VERSION) from its Go module into $(HELM) (a cold build takes a few minutes)"
	GOBIN=$(CURDIR)/bin go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: test-tools
test-tools: ## Install the Debian packages the tests need when missing (Chromium for the HTML report's screenshot test).
	@hack/install-debian-packages chromium:chromium

.PHONY: test
test: controlplane helm test-tools ## Run unit and integration tests against a real kube-apiserver and etcd (installs what they need).
	go test $(GO_TEST_FLAGS) ./...

.PHONY: cover
cover: controlplane helm test-tools ## Run the tests with a coverage profile.
	go test $(GO_TEST_FLAGS) -coverprofile=cover.out ./... && go tool cover -func=cover.out | tail -1

.PHONY: bench-report
bench-report: ## Print a bench result (BENCH_JSON, default the newest) with its capacity model and write its SVG chart beside it.
	go run ./hack/bench -report $(or $(BENCH_JSON),$(lastword $(sort $(wildcard bench/results/*.json))))

.PHONY: bench
bench: controlplane ## Measure convergence, write amplification, latency and memory at 1k-20k partners, and deal registrations decided per second (BENCH_ARGS="-n 1000" for one size, "-n none" for the deal phase only); not part of make test.
	go run ./hack/bench $(BENCH_ARGS)

.PHONY: chaos
chaos: controlplane ## SIGKILL the manager during a 5k-partner convergence and during reviews, fail over, restart kube-apiserver, storm evidence; then the corpus and permissions tests; prints a table (CHAOS_ARGS="-partners 1000" to shrink); not part of make test.
	go run ./hack/chaos $(CHAOS_ARGS)

SOAK ?= 1h

.PHONY: soak
soak: controlplane ## Run 2,000 partners under churn for SOAK (default 1h; make soak SOAK=10m), print RSS, goroutines, fds, queue depth and errors every minute, then the leak verdicts (SOAK_ARGS for more flags); not part of make test.
	go run ./hack/soak -duration $(SOAK) $(SOAK_ARGS)

.PHONY: run
run: controlplane ## Run the manager on a local control plane with the samples applied.
	go build -o bin/partnergov-run ./hack/run
	bin/partnergov-run

.PHONY: run-cluster
run-cluster: ## Run the manager against the cluster of the current kubeconfig (CRDs must be installed; webhooks off-cluster need certificates).
	go run . --leader-elect=false $(ARGS)

##@ Build

.PHONY: build
build: ## Build the manager binary into bin/manager.
	go build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/manager .

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-partnergov (put bin/ on the PATH for `kubectl partnergov`).
	go build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/kubectl-partnergov ./cmd/kubectl-partnergov

.PHONY: docker-build
docker-build: ## Build the container image $(IMG) (needs a Docker engine; CI does not run it).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: install
install: controlplane ## Install the CRDs into the cluster of the current kubeconfig.
	$(K8S_BIN)/kubectl apply --server-side -k config/crd

.PHONY: uninstall
uninstall: controlplane ## Remove the CRDs (and with them every partnergov object!) from the current cluster.
	$(K8S_BIN)/kubectl delete -k config/crd
