package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// burst sends n messages of size bytes at once, then reads what comes
// back: the number of echoes before the close, and the close code and
// reason (0 when the connection stayed open).
func burst(t *testing.T, c *wstest.Client, n, size int) (echoes, code int, reason string) {
	t.Helper()
	msg := strings.Repeat("x", size)
	for range n {
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			break // closed under us: the reads below tell
		}
	}
	for echoes < n {
		_, _, err := c.Next(wstest.Timeout)
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok {
				t.Fatalf("after %d echoes: %v, want a close frame", echoes, err)
			}
			return echoes, ce.Code, ce.Text
		}
		echoes++
	}
	return echoes, 0, ""
}

// steady sends n messages of size bytes at rate per second and checks that
// each is echoed and the connection stays open.
func steady(t *testing.T, c *wstest.Client, n, size int, rate float64) {
	t.Helper()
	msg := strings.Repeat("y", size)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wstest.Send(t, c, msg)
		if _, got, err := c.Next(wstest.Timeout); err != nil || string(got) != msg {
			t.Fatalf("message %d of a client at half its limit: %q, %v", i, got, err)
		}
	}
}

// TestRateLimit: a client that sends three times its limit in a burst is
// closed with 1008 "rate limit" after the echoes of what fitted, for
// either limit; a client at half its limit is never closed; a route may
// set its own limit or none.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{MaxMessagesPerSecond: 20, MaxBytesPerSecond: 64 << 10}
	s := startDemo(t, cfg,
		engine.Route{Pattern: "/ws/bytes", Handler: handlers.Echo, MaxMessagesPerSecond: -1, MaxBytesPerSecond: 2000},
		engine.Route{Pattern: "/ws/free", Handler: handlers.Echo, MaxMessagesPerSecond: -1, MaxBytesPerSecond: -1},
		engine.Route{Pattern: "/ws/own", Handler: handlers.Echo, MaxMessagesPerSecond: 5})

	for _, tc := range []struct {
		name, path string
		n, size    int // the burst: three times the limit
		fits       int // messages the bucket holds
	}{
		{"messages", "/ws/echo", 60, 10, 20},
		{"bytes", "/ws/bytes", 60, 100, 20},
		{"route's own", "/ws/own", 15, 10, 5},
	} {
		t.Run("burst/"+tc.name, func(t *testing.T) {
			before := s.Stats().RateLimited.Load()
			c := s.Dial(t, tc.path)
			echoes, code, reason := burst(t, c, tc.n, tc.size)
			if code != 1008 || reason != engine.ReasonRateLimit {
				t.Fatalf("closed with %d %q after %d echoes, want 1008 %q", code, reason, echoes, engine.ReasonRateLimit)
			}
			// The bucket refills while the burst is read: a few more may fit.
			if echoes < tc.fits || echoes >= tc.n {
				t.Errorf("%d echoes before the close, want the %d that fit (or a few more)", echoes, tc.fits)
			}
			if n := s.Stats().RateLimited.Load() - before; n != 1 {
				t.Errorf("RateLimited grew by %d, want 1", n)
			}
		})
	}
	t.Run("burst/no limit", func(t *testing.T) {
		if echoes, code, _ := burst(t, s.Dial(t, "/ws/free"), 200, 1000); code != 0 || echoes != 200 {
			t.Fatalf("a route without limits: %d echoes, close %d", echoes, code)
		}
	})
	for _, tc := range []struct {
		path    string
		n, size int
		rate    float64
	}{
		{"/ws/echo", 30, 10, 10},   // 10 of 20 messages/s
		{"/ws/bytes", 20, 100, 10}, // 1000 of 2000 bytes/s
		{"/ws/own", 8, 10, 2.5},    // 2.5 of 5 messages/s
	} {
		t.Run("half"+tc.path, func(t *testing.T) {
			t.Parallel()
			steady(t, s.Dial(t, tc.path), tc.n, tc.size, tc.rate)
		})
	}
}
