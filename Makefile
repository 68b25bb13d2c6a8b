# The national lottery: central server and agency client.
SHELL := /bin/bash
GO ?= go
BIN := bin
GOFLAGS_BUILD := -trimpath -ldflags=-s
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
PROJECT := tp0

.PHONY: build test test-short lottery lottery-stop data certs bench lint docker-image docker-certs docker-compose-up docker-compose-down docker-compose-logs clean

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ ./cmd/...

test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# test-short is make test without a Docker engine and without the longest
# runs: every test that needs the engine (package deploy) skips under
# -short, saying so.
test-short:
	$(GO) vet ./...
	$(GO) test -race -count=1 -short ./...

# lottery runs a whole lottery on this machine: the central and its
# agencies, over mutual TLS with the certificates of certs/ (made where
# missing). DATA=dir takes the agencies' files from dir/agency-I.csv (the
# course dataset unzipped there) instead of .data/; KEEP=1 leaves the
# central and its admin page up once the agencies are done, until
# make lottery-stop. README.md, "Draw day".
DATA ?=
KEEP ?=
lottery: build
	DATA='$(DATA)' KEEP='$(KEEP)' ./scripts/lottery.sh

# lottery-stop stops the central that make lottery KEEP=1 left up.
lottery-stop:
	./scripts/lottery.sh stop

# bench prints every benchmark figure (BENCHMARKS.md explains them): the
# micro-benchmarks, then the real binaries on 127.0.0.1, over the file store
# and over PostgreSQL (a throwaway cluster: its server programs must be
# installed, as .ci/run installs them).
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1s ./internal/...
	$(BIN)/loadgen course -runs 7
	$(BIN)/loadgen course -tls -runs 7
	$(BIN)/loadgen course -flood -flood-control -runs 5
	$(BIN)/loadgen scale -agencies 100 -bets 1000 -runs 5
	$(BIN)/loadgen scale -agencies 1000 -bets 10000 -runs 3
	$(BIN)/loadgen scale -agencies 1000 -bets 10000 -rate 1000000 -runs 3
	$(BIN)/loadgen scale -agencies 1000 -bets 10000 -tls -runs 3
	$(BIN)/loadgen scale -agencies 10000 -bets 1000 -tls -runs 1
	$(BIN)/loadgen course -runs 7 -postgres
	$(BIN)/loadgen scale -agencies 1000 -bets 10000 -postgres -replicas 2 -runs 3

# data writes .data/agency-{1..5}.csv where they are missing.
data: build
	$(BIN)/gendata -dir .data -agencies 5 -missing-only

# certs writes the lottery's CA and the certificates of the central, agencies
# 1..5 and the probe into certs/, keeping those already there (README.md,
# "Certificates"). certs/ca.key stays on this machine. make docker-certs
# copies the rest for the containers.
certs: build
	$(BIN)/server certs -dir certs -agencies 5

STATICCHECK_VERSION := v0.8.2

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	"$$($(GO) env GOPATH)/bin/staticcheck" ./...

clean:
	rm -rf $(BIN) .e2e

include docker.mk
