package main

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/internal/wstest"
)

// TestRateLimitSettings: the global max-messages-per-second closes a
// client that sends three times as many at once with 1008 "rate limit", a
// route may turn it off or set its own, and /metrics counts the closes.
func TestRateLimitSettings(t *testing.T) {
	a, _ := startApp(t, `
max-messages-per-second: 10
routes:
  - path: /ws/echo
    handler: echo
  - path: /ws/free
    handler: echo
    max-messages-per-second: off
  - path: /ws/bytes
    handler: echo
    max-bytes-per-second: 1KiB
`)
	flood := func(path string, n, size int) (echoes, code int) {
		t.Helper()
		c, err := wstest.DialURL(a.url("ws", path))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := []byte(strings.Repeat("m", size))
		for range n {
			if c.WriteMessage(websocket.TextMessage, msg) != nil {
				break
			}
		}
		for echoes < n {
			if _, _, err := c.Next(wstest.Timeout); err != nil {
				if ce, ok := err.(*websocket.CloseError); ok && ce.Text == "rate limit" {
					return echoes, ce.Code
				}
				t.Fatalf("%s: %v after %d echoes", path, err, echoes)
			}
			echoes++
		}
		return echoes, 0
	}
	if _, code := flood("/ws/echo", 30, 1); code != 1008 {
		t.Errorf("30 messages at once on a 10/s route: close %d, want 1008", code)
	}
	if echoes, code := flood("/ws/free", 30, 1); code != 0 || echoes != 30 {
		t.Errorf("a route without the limit: %d echoes, close %d", echoes, code)
	}
	if _, code := flood("/ws/bytes", 3, 1024); code != 1008 { // the route's 10/s too
		t.Errorf("3 KiB at once on a 1 KiB/s route: close %d, want 1008", code)
	}
	body := get(t, a.url("http", "/metrics"), 200)
	for _, want := range []string{"ripple_rate_limited_total 2", `ripple_connections_closed_total{code="1008"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
