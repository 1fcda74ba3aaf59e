# Holdfast build, test and tooling entry points. Everything a target needs is
# installed by the project itself into .tools/bin (Go module proxy only).

GO        ?= go
TOOLS     := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

FUZZTIME  ?= 10s
BENCHTIME ?= 1s
BENCHCOUNT ?= 5
DATA      ?= ./holdfast-data

CHAOSFUZZTIME ?= 30s

.PHONY: all build run test test-race test-chaos bench fuzz lint gen gen-check tools s3-server clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build both binaries into ./bin
	$(GO) build -o bin/ ./cmd/holdfastd
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/holdfast

run: ## start the server on embedded defaults (./holdfast-data, 127.0.0.1:8433)
	$(GO) run ./cmd/holdfastd serve --data $(DATA)

test: s3-server ## run every test (installs the S3 test server first)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

test-race: s3-server ## the test suite under the race detector
	$(GO) test -count=1 -race -timeout 30m ./...

test-chaos: ## the long reliability suite (kill -9, store faults, bit rot, bad input, auth), then every fuzz target for CHAOSFUZZTIME
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	rc=0; HOLDFAST_CHAOS=long $(GO) test -count=1 -v -timeout 3h ./bench/chaos > $$log 2>&1 || rc=$$?; \
	grep -E '^(chaos:|--- FAIL|FAIL|ok|panic)|_test.go:[0-9]+: .*(SKIP|fail)' $$log || true; \
	if [ $$rc -ne 0 ]; then tail -50 $$log; exit $$rc; fi
	$(MAKE) fuzz FUZZTIME=$(CHAOSFUZZTIME)

bench: ## run the Go benchmarks (medians: pipe through benchstat)
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./format/... ./repo/...

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for t in $$($(GO) test -list '^Fuzz' ./fuzz | grep '^Fuzz'); do \
		echo "fuzz $$t ($(FUZZTIME))"; \
		$(GO) test ./fuzz -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=10x; \
	done

lint: tools ## go vet + staticcheck + gofmt
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^format/gen/')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

gen: tools ## regenerate protobuf + Connect code from format/proto
	$(TOOLS)/buf lint
	$(TOOLS)/buf generate

gen-check: gen ## fail if the checked-in generated code is stale
	@git diff --exit-code -- format/gen || (echo "format/gen is stale: run make gen and commit"; exit 1)
	@test -z "$$(git status --porcelain -- format/gen)" || (echo "format/gen has untracked files: run make gen and commit"; exit 1)

tools: $(TOOLS)/buf $(TOOLS)/staticcheck ## build pinned dev tools (buf, protoc plugins, staticcheck)

$(TOOLS)/buf: tools/buf/go.mod
	cd tools/buf && $(GO) build -o $(TOOLS)/ tool

$(TOOLS)/staticcheck: tools/go.mod
	cd tools && $(GO) build -o $(TOOLS)/ tool

s3-server: ## install the S3-compatible test server (versitygw) into .tools/bin
	@bash scripts/install-versitygw.sh

clean:
	rm -rf bin
