# Ripple — common tasks. `make test` is what CI runs (.ci/run).

GO        ?= go
FUZZTIME  ?= 5s
LONGFUZZ  ?= 2m
PKGS      := ./...
# bench/peers is a module of its own (the peers' WebSocket libraries stay out
# of the library's go.mod); vet and unit cover it too.
PEERS     := bench/peers

# A checkout of the Autobahn TestSuite's Python 3 port, for `make autobahn`.
AUTOBAHN  ?=

.PHONY: all build run test vet fmt-check unit fuzz-short fuzz e2e autobahn bench-go clean

all: build

build:
	$(GO) build -o ripple ./cmd/ripple
	$(GO) build -o ripple-bench ./cmd/ripple-bench

run:
	$(GO) run ./cmd/ripple

# The whole suite: static checks, every package under the race detector,
# a short run of every fuzz target, the browser test of the demo page.
test: vet fmt-check unit fuzz-short e2e

vet:
	$(GO) vet $(PKGS)
	cd $(PEERS) && $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)
	cd $(PEERS) && $(GO) test -race -count=1 ./...

# fuzz-short runs each fuzz target for FUZZTIME; `make fuzz` for LONGFUZZ.
# A target that fails is run once more: go test -fuzz sometimes ends a busy
# run with "context deadline exceeded", while a real crasher is written to
# testdata/fuzz and fails the second run too.
FUZZ_TARGETS := \
	./codec:FuzzDecoder \
	./codec:FuzzHandshake \
	./engine:FuzzDecodeReply \
	./engine:FuzzRecoverParam \
	./history:FuzzParse \
	./phoenix:FuzzDecode \
	./bench/wsproto:FuzzParseFrame \
	./bench/wsproto:FuzzParseResponse \
	./bench/benchmsg:FuzzScan \
	./bench/dialect:FuzzParse

fuzz-short:
	@for t in $(FUZZ_TARGETS) $(EXTRA_FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || \
		{ echo "fuzz $$pkg $$name failed; once more (a crasher is kept in testdata and fails again)"; \
		  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; } || exit 1; \
	done

fuzz:
	$(MAKE) fuzz-short FUZZTIME=$(LONGFUZZ)

# The demo page in a real browser (skips loudly when chromium is missing).
e2e:
	bash e2e/run.sh

# The Autobahn TestSuite against a fresh cmd/ripple on /ws/echo (not part of
# `make test`: it takes about 45 minutes). AUTOBAHN names the suite's
# checkout; autobahn/run.sh says what it needs and prints the results.
autobahn:
	AUTOBAHN="$(AUTOBAHN)" bash autobahn/run.sh

# Go micro-benchmarks; `make bench` (bench/bench.mk) runs the peer suite.
bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./codec ./route ./presence ./phoenix
	$(GO) test -run '^$$' -bench BroadcastRoom -benchtime 200x ./engine

clean:
	rm -f ripple ripple-bench
	rm -rf bench/out e2e/out autobahn/out

-include bench/bench.mk
