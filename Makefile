# Convene — every command a developer or CI needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export PATH := $(CURDIR)/bin:/usr/local/go/bin:$(PATH)
GO      ?= go
BIN     := $(CURDIR)/bin
MODULES := convene.dev/...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

PLUGINS := $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

# ---- pinned tools (rebuilt only when their go.mod changes) ----------------
# Each tools module lies outside go.work; `go install tool` needs GOWORK=off.
$(BIN)/buf: tools/buf/go.mod tools/buf/go.sum
	GOWORK=off GOBIN=$(BIN) $(GO) -C tools/buf install tool
	@touch $@

$(PLUGINS) &: tools/protoc/go.mod tools/protoc/go.sum
	GOWORK=off GOBIN=$(BIN) $(GO) -C tools/protoc install tool
	@touch $(PLUGINS)

$(BIN)/grpcurl: tools/grpcurl/go.mod tools/grpcurl/go.sum
	GOWORK=off GOBIN=$(BIN) $(GO) -C tools/grpcurl install tool
	@touch $@

$(BIN)/staticcheck: tools/staticcheck/go.mod tools/staticcheck/go.sum
	GOWORK=off GOBIN=$(BIN) $(GO) -C tools/staticcheck install tool
	@touch $@

$(BIN)/grpc-health-probe: tools/probe/go.mod tools/probe/go.sum
	GOWORK=off GOBIN=$(BIN) $(GO) -C tools/probe install tool
	@touch $@

.PHONY: tools
tools: $(BIN)/buf $(PLUGINS) $(BIN)/staticcheck $(BIN)/grpc-health-probe $(BIN)/grpcurl ## install the pinned tools into bin/

# The independent checkers of our output (OpenAPI, iCalendar), pinned by the lockfile.
tools/js/node_modules/.installed: tools/js/package.json tools/js/package-lock.json
	npm ci --prefix tools/js --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: js-tools
js-tools: tools/js/node_modules/.installed ## install the npm checkers (swagger-parser, ical.js)

.PHONY: check-openapi
check-openapi: js-tools ## validate gen/openapi/convene.swagger.json with swagger-parser
	node tools/js/check-openapi.mjs gen/openapi/convene.swagger.json

.PHONY: third-party-protos
third-party-protos: ## fetch google/api, google/rpc, buf/validate, openapiv2 protos (pinned)
	scripts/fetch-third-party-protos.sh

# ---- contracts --------------------------------------------------------------
.PHONY: generate
generate: tools third-party-protos ## regenerate gen/ from proto/
	rm -rf gen/convene gen/openapi
	buf generate

.PHONY: check-generated
check-generated: generate ## fail when gen/ is not exactly what proto/ produces
	@if [[ -n "$$(git status --porcelain -- gen)" ]]; then \
	  git status --short -- gen; git --no-pager diff --stat -- gen; \
	  echo "gen/ differs from what proto/ produces: run 'make generate' and commit gen/" >&2; exit 1; \
	fi

.PHONY: breaking
breaking: tools third-party-protos ## buf breaking against the last commit on main
	scripts/buf-breaking.sh

.PHONY: lint
lint: tools third-party-protos ## buf lint, gofmt, go vet and staticcheck
	buf lint
	@unformatted=$$(find . -name '*.go' -not -path './gen/*' -not -path './third_party/*' -not -path './tools/*' -print0 | xargs -0 gofmt -l); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet $(MODULES)
	staticcheck $(MODULES)

# ---- build, run, test ----------------------------------------------------------
.PHONY: build
build: ## build bin/events, bin/registrations and bin/gateway
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN)/ \
	  ./services/events/cmd/events ./services/registrations/cmd/registrations ./gateway/cmd/gateway

.PHONY: run
run: build $(BIN)/grpcurl $(BIN)/grpc-health-probe ## start all three on the defaults with the demo events; Ctrl-C stops them
	scripts/run.sh

.PHONY: chromium
chromium: ## install Debian's chromium (for the browser tests) when it is missing
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

.PHONY: test
test: check-generated lint breaking check-openapi chromium ## the whole suite: generated code, lint, breaking, go test -race
	$(GO) test -race -count=1 -timeout 8m $(MODULES)

.PHONY: crash-test
crash-test: ## 25 kill -9 rounds against the real binaries (seeds are logged)
	CONVENE_CRASH_ROUNDS=25 $(GO) test -race -count=1 -run TestKill9Rounds -v -timeout 20m convene.dev/e2e

.PHONY: bench
bench: build ## measure against the machine's limits (issue 7): prints the table, writes BENCHMARKS.md
	$(GO) build -trimpath -o $(BIN)/ ./services/registrations/cmd/regpreload ./bench/cmd/bench
	$(BIN)/bench -bin $(BIN) -out $(CURDIR)/BENCHMARKS.md

.PHONY: test-short
test-short: ## go test without the generate/lint steps
	$(GO) test -race -count=1 $(MODULES)

.PHONY: clean
clean: ## remove bin/, data/ and the fetched protos
	rm -rf bin data third_party
