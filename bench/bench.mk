# Benchmark suite (see bench/README.md). Included by the top-level Makefile.
#   make bench                      quick suite, ripple vs gorilla, gws, nbio (< 10 min on 2 cores)
#   make bench BENCH_FLAGS='-repeat 2 -server ripple,nbio'
#   make bench-c1m                  1,000,000 idle connections against ripple (raised limits needed)
GO          ?= go
BENCH_OUT   ?= bench/out
BENCH_FLAGS ?=

.PHONY: bench bench-c1m

bench:
	$(GO) run ./cmd/ripple-bench all -out $(BENCH_OUT) $(BENCH_FLAGS)

bench-c1m:
	$(GO) run ./cmd/ripple-bench c1m -out $(BENCH_OUT) $(BENCH_FLAGS)
