# htlog: `make up` runs the whole system locally, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
# The Go release every target builds and tests with. go.mod keeps `go 1.26.8`
# so that other modules can import htlog's public packages with Go 1.26, but
# the binaries need the standard library's fixes for net/http, crypto/tls and
# html/template that 1.26.8 lacks (govulncheck in `make check` finds 13).
# The go command fetches this release from the module proxy once (about 76 MB).
GOTOOLCHAIN ?= go1.27.3
export GOTOOLCHAIN
# axe-core, the accessibility checker the browser tests run in Chromium,
# from the npm registry into var/axe (not committed).
AXE_VERSION ?= 4.14.1
# The Go vulnerability database, from the golang.org/x/vulndb module at this
# version (vuln.go.dev itself may be unreachable; the module proxy is not).
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
BIN := $(CURDIR)/bin
TRILLIAN_TOOLS := github.com/google/trillian/cmd/trillian_log_server \
	github.com/google/trillian/cmd/trillian_log_signer \
	github.com/google/trillian/cmd/createtree
CMDS := $(patsubst %/,%,$(dir $(wildcard cmd/*/main.go)))

.PHONY: all build trillian axe db up down test test-unit check vulncheck fuzz bench bench-witness corpus clean

all: build

## Build -------------------------------------------------------------------

# Trillian's binaries are built from the version pinned in go.mod (go tools).
trillian: $(BIN)/.trillian-stamp
$(BIN)/.trillian-stamp: go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(TRILLIAN_TOOLS)
	@touch $@

build: trillian
	$(GO) build -o $(BIN)/ $(addprefix ./,$(CMDS))

## Local stack -------------------------------------------------------------

db:
	@deployment/local/ensure-db.sh >/dev/null && cat var/db.env

up: build
	@deployment/local/up.sh

down:
	@deployment/local/down.sh

## Tests -------------------------------------------------------------------

# Every unit test with -race, plus the integration tests on real MariaDB and
# real Trillian (HTLOG_INTEGRATION=1). Each test makes its own databases.
test: trillian axe
	@dsn=$$(deployment/local/ensure-db.sh) && \
	HTLOG_INTEGRATION=1 HTLOG_TEST_DSN="$$dsn" HTLOG_BIN=$(BIN) \
	$(GO) test -race -count=1 -timeout 14m ./... && \
	echo "== the 100,000-entry monitor replay (too slow under -race, so run without it)" && \
	HTLOG_INTEGRATION=1 HTLOG_TEST_DSN="$$dsn" HTLOG_BIN=$(BIN) \
	$(GO) test -count=1 -timeout 25m -run 'TestReplay100k' ./monitor/

# axe-core for the browser tests (patient page, monitor dashboard).
axe: var/axe/node_modules/axe-core/axe.min.js
var/axe/node_modules/axe-core/axe.min.js:
	@command -v npm >/dev/null || { echo "npm is needed to install axe-core for the browser tests: apt-get install npm (Node.js), or set HTLOG_AXE to an axe.min.js"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix var/axe axe-core@$(AXE_VERSION)
	@test -f $@

test-unit:
	$(GO) test -race ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/htlog-go.mod.bak && cp go.sum /tmp/htlog-go.sum.bak && $(GO) mod tidy && \
	  if ! git diff --quiet -- go.mod go.sum; then echo "go mod tidy changes go.mod/go.sum"; git diff --stat -- go.mod go.sum; \
	  cp /tmp/htlog-go.mod.bak go.mod; cp /tmp/htlog-go.sum.bak go.sum; exit 1; fi
	$(GO) tool staticcheck ./...
	@$(MAKE) --no-print-directory vulncheck

# govulncheck (a go tool in go.mod) against the database built from the
# pinned golang.org/x/vulndb module: its OSV files indexed by the module's
# own indexdb into var/vulndb. It fails on any known vulnerability that
# htlog's code can reach.
vulncheck: var/vulndb/$(VULNDB_VERSION)
	$(GO) tool govulncheck -db file://$(CURDIR)/var/vulndb/$(VULNDB_VERSION) ./...
var/vulndb/$(VULNDB_VERSION):
	@set -e; dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	  test -n "$$dir" || { echo "couldn't download golang.org/x/vulndb@$(VULNDB_VERSION) from the module proxy"; exit 1; }; \
	  mkdir -p var/vulndb; \
	  (cd $$dir && GOFLAGS=-mod=mod $(GO) build -o $(CURDIR)/var/vulndb/indexdb ./cmd/indexdb); \
	  rm -rf $@.tmp; var/vulndb/indexdb -vulns $$dir/data/osv -out $@.tmp; mv $@.tmp $@

# Runs every fuzz target in the repository for FUZZTIME each, then prints
# the executions each reached (the last "fuzz: elapsed: ..., execs: N" line).
FUZZTIME ?= 10s
fuzz:
	@set -o pipefail; out=$$(mktemp); sum=$$(mktemp); trap 'rm -f $$out $$sum' EXIT; \
	report() { echo "== executions per target in $(FUZZTIME)"; cat $$sum; }; \
	for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg 2>&1 | tee $$out; rc=$$?; \
	    n=$$(sed -n 's/^fuzz: elapsed: .*, execs: \([0-9]*\) .*/\1/p' $$out | tail -n 1); \
	    printf '%-12s %-36s %s\n' "$${n:-?}" "$$f" "$$pkg" >> $$sum; \
	    if [ $$rc -ne 0 ]; then report; echo "$$f failed"; exit 1; fi; \
	  done; \
	done; report

# The hammer against the local stack beside a raw-Trillian baseline and
# Tessera's MySQL conformance log (and, for reads, a file server of a Tessera
# POSIX log); writes docs/performance.md. DURATION (20s), ROUNDS (2) and
# READ_DURATION (10s) set its length: about 8 minutes with the defaults.
bench: build
	@deployment/local/bench.sh

# The whole privacy probe corpus (100,000 events, one personal identifier
# planted in each) against htlog-server on real Trillian and MariaDB: every
# probe must be refused and the tree must not grow (docs/privacy.md).
CORPUS ?= 100000
corpus: trillian
	@dsn=$$(deployment/local/ensure-db.sh) && \
	HTLOG_INTEGRATION=1 HTLOG_TEST_DSN="$$dsn" HTLOG_BIN=$(BIN) HTLOG_CORPUS=$(CORPUS) \
	$(GO) test -count=1 -timeout 30m -run '^TestCorpusOnTrillian$$' -v ./cmd/htlog-server/ | grep -E 'probes|^(---|ok|FAIL)'

# add-checkpoint latency on MariaDB, p50/p99 (docs/performance.md).
bench-witness:
	@dsn=$$(deployment/local/ensure-db.sh) && \
	HTLOG_INTEGRATION=1 HTLOG_TEST_DSN="$$dsn" \
	$(GO) test -run '^$$' -bench AddCheckpoint -benchtime 3000x ./witness/

clean:
	rm -rf $(BIN)
