package floor_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/bench/fleet"
	"github.com/ripple-rt/ripple/bench/floor"
)

func inProcess(id int) (*fleet.Worker, error) { return fleet.StartInProcess(id, floor.Serve), nil }

func TestRun(t *testing.T) {
	tests := []struct {
		name                string
		conns, per, rounds  int
		wantProcs, wantRuns int
		wantCPU             bool // enough work for the thread's CPU clock (a tick may be 4 ms) to move
	}{
		{name: "one process", conns: 300, per: 1000, rounds: 1, wantProcs: 1, wantRuns: 1},
		{name: "uneven split", conns: 2001, per: 700, rounds: 3, wantProcs: 3, wantRuns: 3, wantCPU: true},
		{name: "defaults", conns: 50, wantProcs: 1, wantRuns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := floor.Run(context.Background(), floor.Config{Conns: tt.conns, PerProc: tt.per, Rounds: tt.rounds, Start: inProcess})
			if err != nil {
				t.Fatal(err)
			}
			if res.Conns != tt.conns || res.Procs != tt.wantProcs || len(res.Rounds) != tt.wantRuns || res.Size != 64 {
				t.Fatalf("result %+v: want %d conns, %d processes, %d rounds of 64 bytes", res, tt.conns, tt.wantProcs, tt.wantRuns)
			}
			for _, r := range res.Rounds {
				if r <= 0 || r < res.Best {
					t.Fatalf("round %v s, best %v s", r, res.Best)
				}
			}
			if res.CPUPerDelivery < 0 || tt.wantCPU && res.CPUPerDelivery == 0 {
				t.Fatalf("CPU per delivery %v", res.CPUPerDelivery)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	if _, err := floor.Run(context.Background(), floor.Config{Start: inProcess}); err == nil {
		t.Fatal("no connections: no error")
	}
	if _, err := floor.Run(context.Background(), floor.Config{Conns: 10}); err == nil {
		t.Fatal("no Start: no error")
	}
	// A process that cannot open its connections fails the run with its
	// reason.
	_, err := floor.Run(context.Background(), floor.Config{Conns: 10, Start: func(id int) (*fleet.Worker, error) {
		return fleet.StartInProcess(id, func(in io.Reader, out io.Writer) error {
			_, _ = out.Write([]byte(`{"ev":"error","err":"no sockets"}` + "\n"))
			_, _ = io.Copy(io.Discard, in)
			return nil
		}), nil
	}})
	if err == nil || !strings.Contains(err.Error(), "no sockets") {
		t.Fatalf("err %v, want the process's reason", err)
	}
}

func TestServeRejects(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "round before open", in: `{"op":"round"}`, want: `"ev":"error"`},
		{name: "unknown", in: `{"op":"fly"}`, want: `unexpected fly`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := floor.Serve(strings.NewReader(tt.in+"\n"), &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Fatalf("answer %q, want %q in it", out.String(), tt.want)
			}
		})
	}
	var out strings.Builder
	if err := floor.Serve(strings.NewReader("{"), &out); err == nil {
		t.Fatal("bad JSON: no error")
	}
}
