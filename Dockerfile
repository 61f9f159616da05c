# The partnergov image: two static binaries (no cgo) on a distroless base that
# runs as a non-root user (65532): /manager (the entrypoint) and /records-server
# (the records server of the postgres records store; its Deployment runs it as
# its command). `make docker-build IMG=...` builds it; the version is stamped
# into both binaries with -ldflags (see `partnergov` in the manager's log).
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /workspace
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
# The packages main.go and cmd/records-server build from (test/deploy checks
# this list against `go list -deps` of both).
COPY main.go main.go
COPY api/ api/
COPY cmd/records-server/ cmd/records-server/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o manager . && \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o records-server ./cmd/records-server

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager /workspace/records-server ./
USER 65532:65532
ENTRYPOINT ["/manager"]
