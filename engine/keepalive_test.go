package engine_test

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// Server pings and the idle timeout, with short intervals: a ping every
// 100ms, and a connection that sent nothing for 400ms is closed.
const (
	pingEvery = 100 * time.Millisecond
	idleAfter = 400 * time.Millisecond
)

func startKeepalive(t *testing.T) *wstest.Engine {
	return startDemo(t, engine.Config{PingInterval: pingEvery, IdleTimeout: idleAfter})
}

type rawFrame struct {
	h   codec.Header
	p   []byte
	err error
}

// readAll reads r's frames into a channel until the first error, which is
// sent last before the channel is closed.
func readAll(r *wstest.Raw) <-chan rawFrame {
	ch := make(chan rawFrame, 64)
	go func() {
		defer close(ch)
		for {
			h, p, err := r.ReadFrame(wstest.Timeout)
			ch <- rawFrame{h, p, err}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// lockedRaw serialises writes of a reader goroutine and the test.
type lockedRaw struct {
	mu sync.Mutex
	r  *wstest.Raw
}

func (l *lockedRaw) write(op codec.OpCode, payload string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.WriteFrame(op, true, []byte(payload))
}

func TestIdleClientIsPingedThenClosed(t *testing.T) {
	s := startKeepalive(t)
	start := time.Now()
	r := s.Upgrade(t, "/ws/echo")
	pings := 0
	frames := readAll(r)
	for f := range frames {
		if f.err != nil {
			t.Fatalf("after %d pings: %v, want a close frame", pings, f.err)
		}
		if f.h.Op == codec.OpPing {
			pings++
			continue
		}
		if f.h.Op != codec.OpClose {
			t.Fatalf("unexpected %s frame", wstest.OpName(f.h.Op))
		}
		code, reason, _ := codec.ParseCloseBody(f.p)
		d := time.Since(start)
		t.Logf("closed %d %q after %v and %d pings", code, reason, d, pings)
		if code != codec.CloseGoingAway {
			t.Fatalf("close %d %q, want 1001", code, reason)
		}
		if d < idleAfter || d > idleAfter+500*time.Millisecond {
			t.Fatalf("closed after %v, want about %v", d, idleAfter)
		}
		if pings < 2 {
			t.Fatalf("%d pings before the idle close, want at least 2", pings)
		}
		break
	}
	// readAll's goroutine still reads r: the end of the stream comes through
	// it (reading r here too would race with it).
	f := <-frames
	switch {
	case f.err == nil:
		t.Fatalf("%s frame after the close frame, want EOF", wstest.OpName(f.h.Op))
	case !errors.Is(f.err, io.EOF) && !strings.Contains(f.err.Error(), "reset by peer"):
		t.Fatalf("after the close frame: %v, want EOF", f.err)
	}
}

func TestActiveClientsStayOpen(t *testing.T) {
	s := startKeepalive(t)
	const stay = 3*idleAfter + 200*time.Millisecond

	t.Run("answers pings", func(t *testing.T) {
		t.Parallel()
		r := s.Upgrade(t, "/ws/echo")
		w := &lockedRaw{r: r}
		frames := readAll(r)
		pings := 0
		deadline := time.After(stay)
	wait:
		for {
			select {
			case f := <-frames:
				if f.err != nil || f.h.Op != codec.OpPing {
					t.Fatalf("after %d pings: %s %v, want only pings", pings, wstest.OpName(f.h.Op), f.err)
				}
				pings++
				if err := w.write(codec.OpPong, string(f.p)); err != nil {
					t.Fatal(err)
				}
			case <-deadline:
				break wait
			}
		}
		expectEchoAmongPings(t, w, frames, "still open")
		t.Logf("%d pings answered in %v", pings, stay)
		if pings < 5 {
			t.Fatalf("only %d pings in %v", pings, stay)
		}
	})
	t.Run("sends messages, ignores pings", func(t *testing.T) {
		t.Parallel()
		r := s.Upgrade(t, "/ws/echo")
		w := &lockedRaw{r: r}
		frames := readAll(r)
		tick := time.NewTicker(idleAfter / 3)
		defer tick.Stop()
		deadline := time.After(stay)
		sent, echoed := 0, 0
	wait:
		for {
			select {
			case f := <-frames:
				if f.err != nil || f.h.Op == codec.OpClose {
					t.Fatalf("closed after %d messages: %s %q %v", sent, wstest.OpName(f.h.Op), f.p, f.err)
				}
				if f.h.Op == codec.OpText {
					echoed++
				}
			case <-tick.C:
				if err := w.write(codec.OpText, "tick"); err != nil {
					t.Fatal(err)
				}
				sent++
			case <-deadline:
				break wait
			}
		}
		expectEchoAmongPings(t, w, frames, "still open")
		t.Logf("%d messages sent, %d echoed before the final check", sent, echoed)
	})
	t.Run("sends unsolicited pongs", func(t *testing.T) {
		t.Parallel()
		r := s.Upgrade(t, "/ws/echo")
		w := &lockedRaw{r: r}
		frames := readAll(r)
		tick := time.NewTicker(idleAfter / 3)
		defer tick.Stop()
		deadline := time.After(stay)
	wait:
		for {
			select {
			case f := <-frames:
				if f.err != nil || f.h.Op == codec.OpClose {
					t.Fatalf("closed: %s %q %v", wstest.OpName(f.h.Op), f.p, f.err)
				}
			case <-tick.C:
				if err := w.write(codec.OpPong, "heartbeat"); err != nil {
					t.Fatal(err)
				}
			case <-deadline:
				break wait
			}
		}
		expectEchoAmongPings(t, w, frames, "still open")
	})
}

// expectEchoAmongPings sends msg and waits for its echo, skipping pings.
func expectEchoAmongPings(t *testing.T, w *lockedRaw, frames <-chan rawFrame, msg string) {
	t.Helper()
	if err := w.write(codec.OpText, msg); err != nil {
		t.Fatal(err)
	}
	for f := range frames {
		switch {
		case f.err != nil:
			t.Fatalf("waiting for the echo: %v", f.err)
		case f.h.Op == codec.OpPing:
		case f.h.Op == codec.OpText && string(f.p) == msg:
			return
		case f.h.Op == codec.OpText: // an earlier echo
		default:
			t.Fatalf("waiting for the echo: %s %q", wstest.OpName(f.h.Op), f.p)
		}
	}
}

// TestTrickledFrameIsIdle sends the header of a 1,000-byte frame and then
// one payload byte every 100ms, never finishing it. SPEC §4 closes a
// connection after the idle timeout "without any frame from the client";
// bytes of a frame that never completes are not a frame, so the
// connection must be closed (1001) after about IdleTimeout, and not be held
// open indefinitely with a partial frame buffered.
func TestTrickledFrameIsIdle(t *testing.T) {
	s := startKeepalive(t)
	r := s.Upgrade(t, "/ws/echo")
	w := &lockedRaw{r: r}
	w.mu.Lock()
	_, err := r.Write(wstest.Header(codec.OpBinary, true, 1000))
	w.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	frames := readAll(r)
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	deadline := time.After(3 * idleAfter)
	for sent := 0; ; {
		select {
		case f := <-frames:
			if f.err != nil {
				t.Fatalf("after %d trickled bytes: %v, want a close frame", sent, f.err)
			}
			if f.h.Op != codec.OpClose {
				continue // pings
			}
			code, reason, _ := codec.ParseCloseBody(f.p)
			if code != codec.CloseGoingAway {
				t.Fatalf("close %d %q, want 1001", code, reason)
			}
			t.Logf("closed %d %q after %v and %d trickled bytes", code, reason, time.Since(start), sent)
			return
		case <-tick.C:
			w.mu.Lock()
			_, err := r.Write([]byte{'x'})
			w.mu.Unlock()
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			sent++
		case <-deadline:
			t.Fatalf("still open after %v (IdleTimeout %v) with a frame that never completes: "+
				"the idle timer is reset by every byte, not by frames", 3*idleAfter, idleAfter)
		}
	}
}
