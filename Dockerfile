# syntax=docker/dockerfile:1
#
# htlog images, built from the repository root:
#
#   docker build -t htlog/htlog .                      # every binary (default target)
#   docker build -t htlog/htlog-db-init --target db-init .
#
# The default image holds htlog-server, htlog-witness, htlog-monitor, htlog-gateway, the htlog
# CLI and Trillian's trillian_log_server, trillian_log_signer and createtree,
# built from the Trillian version pinned in go.mod. It runs as the unprivileged
# user 65532 and has no entrypoint: the command names the binary, e.g.
#   docker run htlog/htlog htlog-server --config /etc/htlog/htlog-server.yaml
#
# The db-init image is MariaDB's client plus Trillian's MySQL schema and
# deployment/compose/db-init.sh: a one-shot job that creates the databases and
# applies the schema to the Trillian database once.

ARG GO_VERSION=1.27.3
ARG DEBIAN_VERSION=trixie
ARG MARIADB_VERSION=11.4

## Build ---------------------------------------------------------------------
FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    set -eux; \
    mkdir -p /out/bin /out/share; \
    go build -ldflags="-s -w" -o /out/bin/ \
        ./cmd/htlog ./cmd/htlog-server ./cmd/htlog-witness ./cmd/htlog-monitor ./cmd/htlog-gateway; \
    go build -ldflags="-s -w" -o /out/bin/ \
        github.com/google/trillian/cmd/trillian_log_server \
        github.com/google/trillian/cmd/trillian_log_signer \
        github.com/google/trillian/cmd/createtree; \
    cp "$(go list -m -f '{{.Dir}}' github.com/google/trillian)/storage/mysql/schema/storage.sql" \
        /out/share/trillian-storage.sql

## db-init: create databases, apply Trillian's schema (one-shot) -------------
FROM mariadb:${MARIADB_VERSION} AS db-init
COPY --from=build /out/share/trillian-storage.sql /usr/share/htlog/trillian-storage.sql
COPY --chmod=0755 deployment/compose/db-init.sh /usr/local/bin/htlog-db-init
# The mariadb image's own user; numeric so that Kubernetes can check runAsNonRoot.
USER 999:999
ENTRYPOINT ["/usr/local/bin/htlog-db-init"]

## Runtime (default) -----------------------------------------------------------
FROM debian:${DEBIAN_VERSION}-slim AS runtime
# ca-certificates for TLS to witnesses, logs and webhooks; curl for container
# health checks (docker compose healthcheck runs inside the container).
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --gid 65532 htlog; \
    useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin htlog; \
    mkdir -p /keys /var/lib/htlog /etc/htlog; \
    chown 65532:65532 /keys /var/lib/htlog; \
    chmod 0700 /keys
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build /out/share/trillian-storage.sql /usr/share/htlog/trillian-storage.sql
# Named volumes mounted on /keys and /var/lib/htlog start out owned by 65532.
VOLUME ["/keys", "/var/lib/htlog"]
USER 65532:65532
WORKDIR /var/lib/htlog
# 8080 htlog-server, 8181 htlog-witness, 8280 htlog-monitor, 8480 htlog-gateway,
# 8090/8091 trillian_log_server (gRPC/HTTP), 8093/8092 trillian_log_signer (gRPC/HTTP).
EXPOSE 8080 8181 8280 8480 8090 8091 8092 8093
CMD ["htlog", "--help"]
