package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/auth"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/webhook"
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

// TestTokenExpirySettings: with jwt-secret a connection is closed with 4001
// "token expired" when its token expires (exp plus the 30 s leeway), and a
// token-refresh route renews it with a refresh message.
func TestTokenExpirySettings(t *testing.T) {
	a, _ := startApp(t, `
jwt-secret: `+jwtSecret+`
close-timeout: 200ms
routes:
  - path: /ws/echo
    handler: echo
  - path: /ws/renew
    handler: echo
    token-refresh: true
`)
	// exp is in whole seconds and 30 s of leeway follow it: this token
	// stops being valid in two to three seconds.
	gone := time.Now().Add(3 * time.Second).Truncate(time.Second)
	old := token(t, "carol", gone.Add(-auth.DefaultLeeway))
	dial := func(path string) *wstest.Client {
		c, err := wstest.DialURL(a.url("ws", path+"?token="+old))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	plain, renew := dial("/ws/echo"), dial("/ws/renew")
	fresh := token(t, "carol", time.Now().Add(time.Hour))
	wstest.Send(t, renew, `{"type":"refresh","token":"`+fresh+`"}`)
	if got := wstest.ReadJSON(t, renew); got["type"] != "refresh" || got["error"] != nil || got["expires_at"] == nil {
		t.Fatalf("refresh answered %v", got)
	}
	wstest.Send(t, renew, `{"type":"refresh","token":"`+token(t, "mallory", time.Now().Add(time.Hour))+`"}`)
	if got := wstest.ReadJSON(t, renew); got["error"] == nil {
		t.Fatalf("a refresh with another user's token answered %v", got)
	}
	if code, reason := wstest.ExpectClose(t, plain); code != 4001 || reason != "token expired" || time.Now().Before(gone) {
		t.Fatalf("closed with %d %q, want 4001 \"token expired\" after %v", code, reason, gone)
	}
	wstest.Send(t, renew, "still here")
	if got := wstest.ReadString(t, renew); got != "still here" {
		t.Fatalf("got %q", got)
	}
}

// token signs an HS256 token for sub expiring at exp.
func token(t *testing.T, sub string, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "exp": exp.Unix()}).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWebhookErrorReports: with webhook-errors, a backend whose answer is
// not valid actions, or names a channel the connection does not track,
// gets an error event, and /metrics counts both.
func TestWebhookErrorReports(t *testing.T) {
	reports := make(chan webhook.ErrorEvent, 8)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev webhook.Event
		_ = json.Unmarshal(body, &ev)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case ev.Type == "error":
			var e webhook.ErrorEvent
			_ = json.Unmarshal(body, &e)
			reports <- e
		case ev.Type == "message" && *ev.Message == "typing":
			_, _ = io.WriteString(w, `{"set_presence":{"channel":"room:9","state":"typing"},"send":"sent"}`)
		case ev.Type == "message":
			_, _ = io.WriteString(w, `{"sned":"typo"}`)
		}
	}))
	defer backend.Close()
	a, logs := startApp(t, `
webhook-errors: true
routes:
  - path: /ws/hook
    webhook: `+backend.URL+`
`)
	c, err := wstest.DialURL(a.url("ws", "/ws/hook"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wstest.Send(t, c, "typing")
	if got := wstest.ReadString(t, c); got != "sent" {
		t.Fatalf("got %q", got)
	}
	wstest.Send(t, c, "other")
	var got []string
	for range 2 {
		select {
		case e := <-reports:
			if e.ConnectionID == "" || e.Event != "message" || e.Route != "/ws/hook" {
				t.Errorf("error event %+v", e)
			}
			got = append(got, e.Error)
		case <-time.After(wstest.Timeout):
			t.Fatalf("error events so far: %q", got)
		}
	}
	if all := strings.Join(got, " | "); !strings.Contains(all, "presence: not tracked") || !strings.Contains(all, `"sned": unknown action`) {
		t.Errorf("error events %q", all)
	}
	body := get(t, a.url("http", "/metrics"), 200)
	if want := `ripple_webhook_invalid_answers_total{route="/ws/hook"} 2`; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if l := logs.String(); !strings.Contains(l, "presence: not tracked") || !strings.Contains(l, "unknown action") {
		t.Errorf("logs lack the errors:\n%s", l)
	}
}
