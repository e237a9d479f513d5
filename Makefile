# onlinemeetings: every build, test and check goes through these targets, so
# developers and CI run the same commands with the same flags.

GO      ?= go
# Every target runs on this Go toolchain, the one go.mod's toolchain line names
# (tidy-check fails when the two differ). A machine starts on its own, older Go
# and a GOTOOLCHAIN=local in its go env, which would ignore that line; the
# export makes the go command fetch this one from the module proxy on first use.
export GOTOOLCHAIN := go1.27.3
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The same -ldflags for every target, so builds and tests share the cache.
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/onlinemeetings
comma   := ,
PKGS    := ./...

# Checkers, each pinned and run as `go run module/cmd@version`: built from the
# module proxy with that module's own go.mod, so they add nothing to ours, and
# cached by the go command after the first run.
# honnef.co/go/tools
STATICCHECK_VERSION := v0.8.2
# golang.org/x/vuln
GOVULNCHECK_VERSION := v1.9.0
# The Go vulnerability database is the golang.org/x/vulndb module at this
# version: its OSV files, indexed into bin/vulndb/VERSION (rebuilt when this
# changes). govulncheck reads only that copy, never the network.
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
VULNDB_DIR          := bin/vulndb/$(VULNDB_VERSION)

.PHONY: all build run test test-short vet staticcheck lint vulncheck go-version generate generate-check tidy-check client-check fuzz bench soak ci clean

all: generate-check vet test build

## build: compile the server into bin/onlinemeetings
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/onlinemeetings

## run: run the server with embedded defaults (SQLite in ./data, dev token issuer, 127.0.0.1:8080)
run: build
	./$(BIN) serve

## test: every test, with the race detector, shuffled
test:
	$(GO) test -ldflags '$(LDFLAGS)' -race -shuffle=on -count=1 -timeout 20m $(PKGS)

## test-short: quick tests without -race
test-short:
	$(GO) test -ldflags '$(LDFLAGS)' -count=1 -short $(PKGS)

## vet: go vet and a gofmt check of the hand-written code (tracked and new files)
vet:
	$(GO) vet $(PKGS)
	@out=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(git ls-files --cached --others --exclude-standard '*.go' | grep -v '^gen/')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## staticcheck: staticcheck's default checks over every package, tests included
staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

## lint: vet and staticcheck
lint: vet staticcheck

## vulncheck: govulncheck against the pinned offline copy of the Go vulnerability database
vulncheck: $(VULNDB_DIR)/index/db.json
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db file://$(CURDIR)/$(VULNDB_DIR) $(PKGS)

# The database: download the vulndb module (verified against the checksum
# database like any module) and index its data/osv with its own indexdb.
$(VULNDB_DIR)/index/db.json:
	@set -e; rm -rf bin/vulndb; mkdir -p bin/vulndb; \
	dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	if [ ! -d "$$dir/data/osv" ]; then echo "no data/osv in golang.org/x/vulndb@$(VULNDB_VERSION) ($$dir)"; exit 1; fi; \
	echo "indexing $$dir/data/osv into $(VULNDB_DIR)"; \
	$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$dir/data/osv" -out $(VULNDB_DIR).tmp; \
	mv $(VULNDB_DIR).tmp $(VULNDB_DIR)

## go-version: the Go toolchain every target uses
go-version:
	@$(GO) version

## generate: regenerate gen/ from openapi.yaml
generate:
	$(GO) generate ./gen/

## generate-check: fail when gen/ differs from what openapi.yaml generates
generate-check:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	for cfg in oapi-codegen.yaml oapi-codegen-client.yaml; do \
	  out=$$(sed -n 's/^output: *//p' $$cfg); \
	  sed "s#^output: .*#output: $$tmp/$$out#" $$cfg > $$tmp/$$cfg; \
	  $(GO) tool oapi-codegen -config $$tmp/$$cfg openapi.yaml || exit 1; \
	  if ! diff -u gen/$$out $$tmp/$$out > $$tmp/diff; then \
	    head -40 $$tmp/diff; echo "gen/$$out is out of date: run make generate and commit the result"; exit 1; \
	  fi; \
	done; echo "gen/ is up to date"

## tidy-check: fail when go.mod/go.sum are not tidy, or go.mod's toolchain is not the one exported above
tidy-check:
	$(GO) mod tidy -diff
	@grep -qx 'toolchain $(GOTOOLCHAIN)' go.mod || { echo "go.mod: want the line 'toolchain $(GOTOOLCHAIN)', as the Makefile exports"; exit 1; }

## client-check: generate two TypeScript clients from openapi.yaml (openapi-typescript + openapi-fetch in clients/typescript; @hey-api/openapi-ts with zod schemas in clients/hey-api; both pinned), type-check them strictly and run them against the built server
client-check: build
	ONLINEMEETINGS_BIN=$(CURDIR)/$(BIN) ./clients/typescript/check.sh
	ONLINEMEETINGS_BIN=$(CURDIR)/$(BIN) ./clients/hey-api/check.sh

## fuzz: run each fuzz target (package:Target) for FUZZTIME (default 30s), one after another
FUZZTIME ?= 30s
# Each target checks an invariant beyond "no panic"; each has a committed seed
# corpus under its package's testdata/fuzz. go test fuzzes one target per run.
FUZZ_TARGETS ?= ./handlers/:FuzzCreateBody ./handlers/:FuzzMeetingPath ./handlers/:FuzzParseFilter \
	./auth/:FuzzPrincipalFromClaims ./graphtime/:FuzzParse ./policy/:FuzzParse
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "== fuzz $$name in $$pkg for $(FUZZTIME)"; \
	  $(GO) test -ldflags '$(LDFLAGS)' -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## bench: Go benchmarks of the create path, then the load script (create and get) against a real server and a bare handler, for each store in BENCH_STORES
# BENCH_STORES: sqlite, memory, postgres (one replica), postgres2 (two replicas
# on one database, the same total load). The default stays sqlite,memory even
# when ONLINEMEETINGS_TEST_POSTGRES_URL is set (CI sets it), so `make bench`
# needs no database and keeps its length; ask for PostgreSQL explicitly:
#   make bench BENCH_STORES=sqlite,memory,postgres,postgres2
# with ONLINEMEETINGS_TEST_POSTGRES_URL set (or loadtest fails saying so).
# BENCH_ROUNDS: measure the load script's targets this many times, alternating,
# and end with each ratio's median (e.g. make bench BENCH_ROUNDS=5).
# BENCH_BASE: a server binary to compare with this build in the same rounds
# (e.g. one built from main before a change: make bench BENCH_BASE=/tmp/base BENCH_ROUNDS=5).
BENCH_STORES ?= sqlite,memory
BENCH_ROUNDS ?= 1
BENCH_BASE ?=
bench: build
	$(GO) test -ldflags '$(LDFLAGS)' -run '^$$' -bench . -benchtime 2s ./handlers/ ./store/...
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/loadtest -bin $(BIN)$(if $(BENCH_BASE),$(comma)$(BENCH_BASE)) -store $(BENCH_STORES) -rounds $(BENCH_ROUNDS)

## soak: load the server with every operation for SOAK_DURATION (default 2m), kill -9 it every 15-20 s and check that no acknowledged write was lost
SOAK_DURATION ?= 2m
soak: build
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/soak -bin $(BIN) -duration $(SOAK_DURATION)

## ci: what .ci/run runs
ci: generate-check tidy-check vet staticcheck vulncheck test client-check fuzz

clean:
	rm -rf bin
