# Benchmark suite (see bench/README.md). Included by the top-level Makefile.
#   make bench                      quick suite, ripple vs gorilla, gws, nbio, centrifuge, socketio (~12 min on 2 cores;
#                                   the latency scenario's steps are 2 s: -d 5s steadies them)
#   make bench BENCH_FLAGS='-repeat 2 -server ripple,nbio'
#   make bench-c1m                  1,000,000 connections over ripple cluster nodes on one redis-server (-n scales it)
#   make bench-storm                join storm: a presence room of 10,000, then 1,000 joins at once (ripple)
#   make bench-storm BENCH_FLAGS='-room-size 3000 -burst 300'
#   make bench-cluster              broadcast on 1 ripple vs 3 ripple nodes sharing a redis-server (same run)
#   make bench-recovery             clients drop and reconnect while rooms publish, on 1 ripple and on 3 nodes:
#                                   every publication exactly once (ripple -history; needs redis-server)
GO          ?= go
BENCH_OUT   ?= bench/out
BENCH_FLAGS ?=

.PHONY: bench bench-c1m bench-storm bench-cluster bench-recovery

bench:
	$(GO) run ./cmd/ripple-bench all -out $(BENCH_OUT) $(BENCH_FLAGS)

bench-c1m:
	$(GO) run ./cmd/ripple-bench c1m -out $(BENCH_OUT) $(BENCH_FLAGS)

bench-storm:
	$(GO) run ./cmd/ripple-bench storm -server ripple -out $(BENCH_OUT) $(BENCH_FLAGS)

bench-cluster:
	$(GO) run ./cmd/ripple-bench cluster -server ripple -out $(BENCH_OUT) $(BENCH_FLAGS)

bench-recovery:
	$(GO) run ./cmd/ripple-bench recovery -server ripple -out $(BENCH_OUT) $(BENCH_FLAGS)
