//go:build linux

package scenario_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/target/targettest"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/httpapi"
)

// startRipple runs Ripple's demo routes and HTTP API in-process on a free
// loopback port, as cmd/ripple does.
func startRipple(t *testing.T, cfg ripple.Config) string {
	t.Helper()
	mux := http.NewServeMux()
	cfg.HTTPHandler = mux
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := ripple.New(cfg)
	if err := handlers.Register(srv); err != nil {
		t.Fatal(err)
	}
	mux.Handle(httpapi.Prefix, httpapi.New(srv, httpapi.Config{}))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "ws://" + srv.Addr().String()
}

func TestStormAgainstRipple(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		loops    int
	}{
		{"presence=batched/loops=1", 0, 1},
		{"presence=unbatched/loops=1", -1, 1},
		{"presence=batched/loops=2", 0, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := startRipple(t, ripple.Config{PresenceInterval: tc.interval})
			res, err := scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{
				Scenario: scenario.Storm, RoomSize: 300, Burst: 60, MsgRate: 200, Loops: tc.loops,
				Duration: scenario.Duration(300 * time.Millisecond), Drain: scenario.Duration(20 * time.Second),
			}}, scenario.Target{Name: "ripple", URL: url})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range res.Notes {
				t.Log(n)
			}
			if !res.OK {
				t.Fatalf("failures: %v", res.Failures)
			}
			sr := res.Storm
			if sr == nil {
				t.Fatal("no storm result")
			}
			if sr.Sequences != 1 || sr.Listed != 360 || res.Conns != 360 || res.Opened != 360 {
				t.Errorf("sequences %d, listed %d, open %d, opened %d; want 1, 360, 360, 360", sr.Sequences, sr.Listed, res.Conns, res.Opened)
			}
			if sr.FillSeconds <= 0 || sr.StatesSeconds <= 0 || sr.ViewsSeconds <= 0 || sr.JoinViewsSeconds <= 0 {
				t.Errorf("phase times: fill %v states %v views %v join views %v", sr.FillSeconds, sr.StatesSeconds, sr.ViewsSeconds, sr.JoinViewsSeconds)
			}
			if sr.DiffsMin < 1 || sr.DiffsMin != sr.DiffsMax || sr.StateBytes.N != 60 || sr.StateBytes.Min < 300*20 {
				t.Errorf("diffs per member %d–%d, states %d of min %d bytes", sr.DiffsMin, sr.DiffsMax, sr.StateBytes.N, sr.StateBytes.Min)
			}
			if sr.EchoBaseline.N == 0 || sr.PingBaseline.N == 0 || sr.EchoFill.N == 0 {
				t.Errorf("bystander samples: fill %d, baseline echo %d ping %d", sr.EchoFill.N, sr.EchoBaseline.N, sr.PingBaseline.N)
			}
			if res.ThroughputUnit != "joins/s" || res.Throughput <= 0 {
				t.Errorf("throughput %v %s", res.Throughput, res.ThroughputUnit)
			}
		})
	}
}

func TestStormSkippedOn404(t *testing.T) {
	url := targettest.Start(t, "gorilla")
	res, err := scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{Scenario: scenario.Storm, RoomSize: 10, Burst: 5}},
		scenario.Target{Name: "gorilla", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == "" || !res.OK {
		t.Fatalf("storm against a server without presence: %+v", res)
	}
}
