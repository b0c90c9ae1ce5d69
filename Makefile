# modelgate — see README.md. `make run` serves MCP on stdio on the embedded
# store; `make test` runs every test (PostgreSQL at MODELGATE_TEST_DATABASE_URL).
GO          ?= go
BIN         := bin/mcp-server
FUZZTIME    ?=
PKGS        := ./...
export MODELGATE_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: build run test unit fuzz-short fuzz bench bench-go lint conformance clean

# A static binary (every dependency is pure Go): no libc to load, about
# 1-2 MB less resident memory, and it runs on any Linux.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/mcp-server

run: build
	./$(BIN)

# Every test: vet, the race-detected suite (both stores), short fuzz runs.
test: lint build
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(MAKE) fuzz-short

unit:
	$(GO) test -count=1 $(PKGS)

# Each fuzz target for a fixed number of inputs (about 3 s each on the development VM; the
# corpus is committed under testdata/fuzz). A count, not a time: with a time budget Go 1.26's
# fuzz coordinator can report "context deadline exceeded" at the deadline on a loaded machine,
# with no failing input (golang/go#75804, fixed in Go 1.27). FUZZTIME=... overrides every count.
fuzz-short:
	$(GO) test -run='^$$' -fuzz='^FuzzDerive$$' -fuzztime=$(or $(FUZZTIME),20000x) ./registry
	$(GO) test -run='^$$' -fuzz='^FuzzLoad$$' -fuzztime=$(or $(FUZZTIME),20000x) ./registry
	$(GO) test -run='^$$' -fuzz='^FuzzToolArguments$$' -fuzztime=$(or $(FUZZTIME),2500x) ./tools
	$(GO) test -run='^$$' -fuzz='^FuzzValidOrg$$' -fuzztime=$(or $(FUZZTIME),200000x) .
	$(GO) test -run='^$$' -fuzz='^FuzzRedactor$$' -fuzztime=$(or $(FUZZTIME),100000x) ./secrets
	$(GO) test -run='^$$' -fuzz='^FuzzRedactorTrimCut$$' -fuzztime=$(or $(FUZZTIME),4000x) ./secrets

# Two minutes a target. A time budget: its end can still be reported as "context deadline
# exceeded" (above); a real finding always writes its input under testdata/fuzz.
fuzz:
	$(MAKE) fuzz-short FUZZTIME=2m

# The ratios of modelgate to the framework's floor (mcp-floor), in one table:
# HTTP ping and list_offered_models, stdio start-up, idle RSS (scripts/bench.sh).
bench:
	./scripts/bench.sh

# Every Go benchmark of the packages.
bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags floorsqlite ./cmd/mcp-floor

conformance: build
	./scripts/conformance.sh

clean:
	rm -rf bin
