package engine_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/phoenix"
)

// lpClient speaks the long-poll transport as phoenix.js does.
type lpClient struct {
	t     *testing.T
	url   string
	token string
	held  []wstest.PhxMsg // polled while looking for another message
}

type lpAnswer struct {
	Status   int      `json:"status"`
	Token    string   `json:"token"`
	Messages []string `json:"messages"`
}

func (c *lpClient) do(method, body string) lpAnswer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set(phoenix.TokenHeader, c.token)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a lpAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 {
		c.t.Fatalf("%s: HTTP %d, %v", method, resp.StatusCode, err)
	}
	return a
}

// open starts a session.
func (c *lpClient) open() {
	c.t.Helper()
	c.token, c.held = "", nil
	a := c.do(http.MethodGet, "")
	if a.Status != 410 || a.Token == "" {
		c.t.Fatalf("open: %+v", a)
	}
	c.token = a.Token
}

// send posts messages, one per line.
func (c *lpClient) send(msgs ...string) int {
	c.t.Helper()
	return c.do(http.MethodPost, strings.Join(msgs, "\n")).Status
}

// expect polls until a message that match accepts comes.
func (c *lpClient) expect(what string, match func(wstest.PhxMsg) bool) wstest.PhxMsg {
	c.t.Helper()
	deadline := time.Now().Add(wstest.Timeout)
	for time.Now().Before(deadline) {
		for i, m := range c.held {
			if match(m) {
				c.held = append(c.held[:i:i], c.held[i+1:]...)
				return m
			}
		}
		a := c.do(http.MethodGet, "")
		if a.Status != 200 && a.Status != 204 {
			c.t.Fatalf("poll while waiting for %s: %+v", what, a)
		}
		for _, raw := range a.Messages {
			m, err := wstest.DecodePhx(phoenix.V2, []byte(raw))
			if err != nil {
				c.t.Fatal(err)
			}
			c.held = append(c.held, m)
		}
	}
	c.t.Fatalf("no %s", what)
	return wstest.PhxMsg{}
}

func TestPhoenixLongPoll(t *testing.T) {
	s, log := startPhoenix(t, engine.Config{LongPollWindow: 200 * time.Millisecond})
	lp := &lpClient{t: t, url: "http://" + s.Addr + "/socket/longpoll?vsn=2.0.0"}
	lp.open()
	wstest.Eventually(t, "the session counted", func() bool { return s.LocalCount() == 1 })

	// Join and push over POST; replies over GET.
	if st := lp.send(`["1","1","test:lp","phx_join",{}]`, `["1","2","test:lp","echo",{"n":2}]`); st != 200 {
		t.Fatalf("post: %d", st)
	}
	if m := lp.expect("join reply", isReply("1")); m.Status() != "ok" {
		t.Fatalf("join: %v", m)
	}
	if m := lp.expect("echo reply", isReply("2")); string(m.Response()) != `{"n":2}` {
		t.Fatalf("echo: %v", m)
	}
	// An empty poll comes back 204 after the window.
	start := time.Now()
	if a := lp.do(http.MethodGet, ""); a.Status != 204 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("empty poll: %+v after %v", a, time.Since(start))
	}

	// A WebSocket member and the session share the channel, both ways.
	ws := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	ws.Join(t, "test:lp", nil)
	ws.Call(t, "test:lp", "shout", map[string]any{"from": "ws"})
	ws.Event(t, "test:lp", "shout") // its own
	if m := lp.expect("shout from ws", func(m wstest.PhxMsg) bool { return m.Event == "shout" }); string(m.Payload) != `{"from":"ws"}` {
		t.Fatalf("shout: %v", m)
	}
	lp.send(`["1","3","test:lp","shout",{"from":"lp"}]`)
	if m := ws.Event(t, "test:lp", "shout"); string(m.Payload) != `{"from":"lp"}` {
		t.Fatalf("shout from lp: %v", m)
	}
	// A binary broadcast reaches the session as base64 text.
	ws.SendBinary(t, "test:lp", "bin", []byte{1, 2})
	if m := lp.expect("binary", func(m wstest.PhxMsg) bool { return m.Event == "message" }); string(m.Payload) != `{"body":"AQI=","encoding":"base64"}` {
		t.Fatalf("binary: %v", m)
	}

	// Polling keeps the session alive past two windows.
	for range 3 {
		if a := lp.do(http.MethodGet, ""); a.Status != 204 && a.Status != 200 {
			t.Fatalf("session lost while polled: %+v", a)
		}
	}

	// Closed by the server: the next polls learn the session is gone.
	id := s.ClientsIn("test:lp")
	for _, c := range id {
		s.Close(c, "bye")
	}
	wstest.Eventually(t, "both closed", func() bool { return s.LocalCount() == 0 })
	wstest.Eventually(t, "the session's channel disconnect", func() bool { return log.has("test:lp phx_close") })
	gone := false
	for range 3 {
		if a := lp.do(http.MethodGet, ""); a.Status == 410 && a.Token != "" && a.Token != lp.token {
			gone = true
			break
		}
	}
	if !gone {
		t.Fatal("a closed session never answered 410 with a new session")
	}
	if st := (&lpClient{t: t, url: lp.url, token: "nope"}).send(`[]`); st != 410 {
		t.Fatalf("post to an unknown session: %d", st)
	}
	// That 410 opened a new session, as Phoenix does; nobody polls it, so
	// it expires after two windows.
	wstest.Eventually(t, "the new session", func() bool { return s.LocalCount() == 1 })
	wstest.Eventually(t, "the unpolled session closed", func() bool { return s.LocalCount() == 0 })

	// Malformed input closes the session, as it closes a WebSocket.
	lp.open()
	lp.send(`["1","1",42,"phx_join",{}]`)
	wstest.Eventually(t, "the malformed session closed", func() bool { return s.LocalCount() == 0 })
}

// TestPhoenixLongPollAuth: the Auth hook and the origin rule apply to a
// session as to an upgrade (403 stops phoenix.js).
func TestPhoenixLongPollAuth(t *testing.T) {
	cfg := engine.Config{
		AllowedOrigins: []string{"https://good.example"},
		Auth: func(r *codec.Request) (string, error) {
			if r.Query().Get("token") != "secret" {
				return "", errDenied
			}
			return "ann", nil
		},
	}
	s, _ := startPhoenix(t, cfg)
	for _, tc := range []struct {
		query, origin string
		status        int
	}{
		{"vsn=2.0.0", "", 403},
		{"vsn=2.0.0&token=secret", "https://evil.example", 403},
		{"vsn=7.0.0&token=secret", "", 403},
		{"vsn=2.0.0&token=secret", "https://good.example", 410},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr+"/socket/longpoll?"+tc.query, nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var a lpAnswer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if a.Status != tc.status {
			t.Errorf("%s origin %q: status %d, want %d", tc.query, tc.origin, a.Status, tc.status)
		}
	}
}

var errDenied = errors.New("denied")
