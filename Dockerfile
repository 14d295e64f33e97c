# syntax=docker/dockerfile:1
#
# bounced container image.
#
#   docker build -t bounced:local .
#   docker run --rm bounced:local version
#
# Build: a static binary (CGO_ENABLED=0) from ./cmd/bounced.
# Runtime: distroless/static (CA certificates, tzdata, /etc/passwd with the
# "nonroot" user, uid 65532) plus a static busybox, used only by the compose
# healthcheck (`busybox wget`) and the compose one-shot that chains
# `bounced topics && bounced migrate` (`busybox sh -c`). Kubernetes needs neither.
#
# There is no .dockerignore in the repository yet: the whole checkout (including
# .git, bin/, .data/, .clickhouse/) is sent as build context. Only the Go build
# reads it; nothing but the binary reaches the final image.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/bounced ./cmd/bounced

# The musl variant of the official busybox image is a single static binary.
FROM busybox:1.37-musl AS busybox

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
COPY --from=build /out/bounced /usr/local/bin/bounced
# Containers must listen on all interfaces (the default is 127.0.0.1:8080), and
# data_dir must be writable by the non-root user (it only matters for the
# embedded broker, i.e. when kafka.brokers is empty).
ENV BOUNCED_HTTP_ADDR=0.0.0.0:8080 \
    BOUNCED_DATA_DIR=/tmp/bounced
WORKDIR /tmp
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["bounced"]
CMD ["run"]
