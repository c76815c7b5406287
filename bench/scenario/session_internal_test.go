//go:build linux

package scenario

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/fleet"
)

// TestWaitPhaseErrors: a worker's failure of a C1M phase whose wait has
// already ended (on another worker's failure) does not fail the next
// phase; a failure of the phase waited for does.
func TestWaitPhaseErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		events  []workerEvent
		wantErr string
	}{
		{
			name: "late failure of an earlier phase",
			events: []workerEvent{
				{id: 1, ev: Event{Ev: "error", Step: phaseStep(1), Error: "scenario: phase presence did not finish"}},
				{id: 0, ev: Event{Ev: "done", Step: phaseStep(1)}}, // late too
				{id: 0, ev: Event{Ev: "done", Step: phaseStep(2)}},
				{id: 1, ev: Event{Ev: "done", Step: phaseStep(2)}},
			},
		},
		{
			name: "failure of the phase waited for",
			events: []workerEvent{
				{id: 0, ev: Event{Ev: "done", Step: phaseStep(2)}},
				{id: 1, ev: Event{Ev: "error", Step: phaseStep(2), Error: "scenario: phase closed did not finish"}},
			},
			wantErr: "worker 1: scenario: phase closed did not finish",
		},
		{
			name: "failure of another command",
			events: []workerEvent{
				{id: 0, ev: Event{Ev: "error", Step: "connect", Error: "too many open files"}},
			},
			wantErr: "worker 0: too many open files",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{workers: make([]*fleet.Worker, 2), events: make(chan workerEvent, len(tc.events)), prog: make([]Progress, 2)}
			for _, ev := range tc.events {
				s.events <- ev
			}
			evs, err := s.wait(context.Background(), phaseStep(2), 0, 10*time.Second)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("wait: %v", err)
			case tc.wantErr == "" && len(evs) != 2:
				t.Fatalf("%d events, want 2", len(evs))
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("wait: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}
