# Holdfast build, test and tooling entry points. Everything a target needs is
# installed by the project itself into .tools/bin (Go module proxy only).

GO        ?= go
TOOLS     := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

FUZZTIME  ?= 10s
BENCHTIME ?= 1s
BENCHCOUNT ?= 5
DATA      ?= ./holdfast-data
IMAGE     ?= holdfast:latest
IMAGE_CTX ?= bin/image
# make bench-e2e: data set size, runs to take medians of, report directory,
# and scratch directory (empty: a temporary one, removed at the end).
BENCH_SIZE ?= 2GiB
BENCH_RUNS ?= 3
BENCH_OUT  ?= bench/out
BENCH_WORK ?=

CHAOSFUZZTIME ?= 30s

.PHONY: all build image run test test-race test-chaos bench bench-e2e fuzz lint gen gen-check tools s3-server clean help gc-stress gc-stress-race

all: build

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build both binaries into ./bin
	$(GO) build -o bin/ ./cmd/holdfastd
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/holdfast

image: ## build the static client and the scratch image $(IMAGE) (deploy/Dockerfile; nothing is pulled)
	rm -rf $(IMAGE_CTX) && mkdir -p $(IMAGE_CTX)/rootfs/tmp $(IMAGE_CTX)/rootfs/cache
	chmod 1777 $(IMAGE_CTX)/rootfs/tmp && chmod 0700 $(IMAGE_CTX)/rootfs/cache
	CGO_ENABLED=0 $(GO) build -trimpath -o $(IMAGE_CTX)/rootfs/holdfast ./cmd/holdfast
	docker build -f deploy/Dockerfile -t $(IMAGE) $(IMAGE_CTX)

run: ## start the server on embedded defaults (./holdfast-data, 127.0.0.1:8433)
	$(GO) run ./cmd/holdfastd serve --data $(DATA)

test: s3-server ## run every test (installs the S3 test server first)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	cd deploy/kubernetes && GOFLAGS=-mod=mod $(GO) vet ./... && $(GO) test -count=1 ./...

test-race: s3-server ## the test suite under the race detector
	$(GO) test -count=1 -race -timeout 30m ./...

GCSTRESS ?= 60s

gc-stress: ## GC under concurrent backups, forgets and restores through the real server for GCSTRESS (default 60s)
	HOLDFAST_GC_STRESS=$(GCSTRESS) $(GO) test -count=1 -timeout 30m -run '^TestStress$$' -v ./gc

gc-stress-race: ## the short form of gc-stress (about 12 s of load) under the race detector, for CI
	$(GO) test -count=1 -race -timeout 10m -run '^TestStress$$' ./gc

test-chaos: ## the long reliability suite (kill -9, store faults, bit rot, bad input, auth), then every fuzz target for CHAOSFUZZTIME
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	rc=0; HOLDFAST_CHAOS=long $(GO) test -count=1 -v -timeout 3h ./bench/chaos > $$log 2>&1 || rc=$$?; \
	grep -E '^(chaos:|--- FAIL|FAIL|ok|panic)|_test.go:[0-9]+: .*(SKIP|fail)' $$log || true; \
	if [ $$rc -ne 0 ]; then tail -50 $$log; exit $$rc; fi
	$(MAKE) fuzz FUZZTIME=$(CHAOSFUZZTIME)

bench: ## run the Go benchmarks (medians: pipe through benchstat)
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./format/... ./repo/...

bench-e2e: ## end-to-end benchmark, real binaries on loopback (BENCH_SIZE, BENCH_RUNS, BENCH_OUT, BENCH_WORK)
	$(GO) run ./bench/cmd/e2e -size $(BENCH_SIZE) -runs $(BENCH_RUNS) -out $(BENCH_OUT) $(if $(BENCH_WORK),-work $(BENCH_WORK))

# Packages with fuzz targets: fuzz/ holds those of the exported decoders;
# a decoder whose fuzzing needs its package's internals keeps its target
# beside it.
FUZZPKGS ?= ./fuzz ./internal/rpccodec

fuzz: ## run every fuzz target of FUZZPKGS for FUZZTIME each
	@set -e; for p in $(FUZZPKGS); do for t in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
		echo "fuzz $$p $$t ($(FUZZTIME))"; \
		before=$$(git status --porcelain --untracked-files=all $$p/testdata); \
		if ! $(GO) test $$p -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=10x; then \
			test "$$(git status --porcelain --untracked-files=all $$p/testdata)" = "$$before" || { echo "fuzz $$t: crasher written under $$p/testdata"; exit 1; }; \
			echo "fuzz $$t: failed without a crasher (the fuzz engine can report its own deadline as a failure); running again"; \
			$(GO) test $$p -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=10x; \
		fi; \
	done; done

lint: tools ## go vet + staticcheck + gofmt (the manifest test module too)
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...
	cd deploy/kubernetes && GOFLAGS=-mod=mod $(GO) vet ./... && $(TOOLS)/staticcheck ./...
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/holdfast # the client builds for macOS too
	GOOS=darwin GOARCH=arm64 $(GO) vet ./client/... ./cmd/holdfast/... ./format/... # and its tests compile there
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
