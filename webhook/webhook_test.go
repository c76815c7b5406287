package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/webhook"
)

const secret = "hook-secret"

// backend is a real HTTP server playing the application: it checks each
// request's signature, records the event and answers with answer(event).
type backend struct {
	*httptest.Server
	events chan webhook.Event
	errors chan webhook.ErrorEvent // error events, answered 204
	bad    atomic.Int64            // requests with a bad signature or body
}

func newBackend(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, ev webhook.Event)) *backend {
	t.Helper()
	b := &backend{events: make(chan webhook.Event, 1024), errors: make(chan webhook.ErrorEvent, 64)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev webhook.Event
		if err := webhook.Verify([]byte(secret), r.Header, body, time.Now(), 0); err != nil {
			b.bad.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if err := json.Unmarshal(body, &ev); err != nil || r.Header.Get("X-Ripple-Event") != ev.Type ||
			r.Header.Get("Content-Type") != "application/json" {
			b.bad.Add(1)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if ev.Type == "error" {
			var e webhook.ErrorEvent
			_ = json.Unmarshal(body, &e)
			b.errors <- e
			w.WriteHeader(http.StatusNoContent)
			return
		}
		b.events <- ev
		answer(w, r, ev)
	}))
	t.Cleanup(b.Close)
	return b
}

// next returns the next event the backend received.
func (b *backend) next(t *testing.T) webhook.Event {
	t.Helper()
	select {
	case ev := <-b.events:
		return ev
	case <-time.After(wstest.Timeout):
		t.Fatal("no webhook call")
	}
	return webhook.Event{}
}

// nextError returns the next error event the backend received.
func (b *backend) nextError(t *testing.T) webhook.ErrorEvent {
	t.Helper()
	select {
	case e := <-b.errors:
		return e
	case <-time.After(wstest.Timeout):
		t.Fatal("no error event")
	}
	return webhook.ErrorEvent{}
}

// quietErrors checks that the backend receives no error event for d.
func (b *backend) quietErrors(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-b.errors:
		t.Fatalf("unexpected error event %+v", e)
	case <-time.After(d):
	}
}

// quiet checks that the backend receives nothing for d.
func (b *backend) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-b.events:
		t.Fatalf("unexpected webhook call %+v", ev)
	case <-time.After(d):
	}
}

// closeCall is one Close the handler asked for.
type closeCall struct {
	id     string
	code   codec.CloseCode
	reason string
}

// server is a real Ripple server with the webhook route /ws/hook/:id.
type server struct {
	*ripple.Server
	closes chan closeCall
	logs   *syncBuffer
}

func startServer(t *testing.T, cfg webhook.Config) *server {
	t.Helper()
	s := &server{closes: make(chan closeCall, 64), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Server = ripple.New(ripple.Config{Logger: log})
	cfg.Route = "/ws/hook/:id"
	cfg.Logger = log
	cfg.Close = func(id string, code codec.CloseCode, reason string) {
		s.closes <- closeCall{id, code, reason}
		s.Close(id, reason)
	}
	h, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Handle(cfg.Route, h.Handle, ripple.Workers(), ripple.OnActionError(h.ActionError)); err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

func (s *server) dial(t *testing.T, path string, h http.Header) *wstest.Client {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: wstest.Timeout}
	conn, _, err := d.Dial("ws://"+s.Addr().String()+path, h)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	c := wstest.Wrap(conn)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// chatBackend joins room:<id> and greets on connect, relays messages to
// the room and answers disconnects with nothing.
func chatBackend(w http.ResponseWriter, _ *http.Request, ev webhook.Event) {
	switch ev.Type {
	case "connect":
		writeJSON(w, 200, map[string]any{"join": "room:" + ev.Params["id"], "send": "welcome " + ev.Query["name"]})
	case "message":
		writeJSON(w, 200, map[string]any{"broadcast_room": ev.Params["id"] + ":" + *ev.Message})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func TestRoundTrip(t *testing.T) {
	b := newBackend(t, chatBackend)
	s := startServer(t, webhook.Config{URL: b.URL + "/events", Secret: secret})

	ann := s.dial(t, "/ws/hook/7?name=ann&lang=en", http.Header{"X-Test": {"a", "b"}, "Cookie": {"s=1"}})
	if got := wstest.ReadString(t, ann); got != "welcome ann" {
		t.Fatalf("ann got %q", got)
	}
	connect := b.next(t)
	if connect.Type != "connect" || connect.ConnectionID == "" || connect.Message != nil ||
		connect.Params["id"] != "7" || connect.Route != "/ws/hook/:id" || connect.Path != "/ws/hook/7" ||
		connect.Query["name"] != "ann" || connect.Query["lang"] != "en" || connect.Headers["x-test"] != "a, b" ||
		connect.Headers["cookie"] != "s=1" || !strings.HasPrefix(connect.RemoteAddr, "127.0.0.1:") {
		t.Fatalf("connect event %+v", connect)
	}
	bob := s.dial(t, "/ws/hook/7?name=bob", nil)
	if got := wstest.ReadString(t, bob); got != "welcome bob" {
		t.Fatalf("bob got %q", got)
	}
	b.next(t) // bob's connect

	wstest.Send(t, ann, "hello")
	for _, c := range []*wstest.Client{ann, bob} {
		if got := wstest.ReadString(t, c); got != "7:hello" {
			t.Fatalf("got %q", got)
		}
	}
	msg := b.next(t)
	if msg.Type != "message" || msg.ConnectionID != connect.ConnectionID || msg.Message == nil || *msg.Message != "hello" || msg.Binary {
		t.Fatalf("message event %+v", msg)
	}
	if err := ann.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if bin := b.next(t); !bin.Binary || *bin.Message != "AAEC" {
		t.Fatalf("binary event %+v", bin)
	}
	wstest.ReadString(t, bob)
	_ = ann.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	disc := b.next(t)
	if disc.Type != "disconnect" || disc.ConnectionID != connect.ConnectionID {
		t.Fatalf("disconnect event %+v", disc)
	}
	if n := b.bad.Load(); n != 0 {
		t.Fatalf("%d requests failed the signature check", n)
	}
}

func TestStripCredentials(t *testing.T) {
	b := newBackend(t, chatBackend)
	s := startServer(t, webhook.Config{URL: b.URL, Secret: secret, StripCredentials: true})
	s.dial(t, "/ws/hook/1?token=t0k&name=x", http.Header{"Authorization": {"Bearer t0k"}})
	ev := b.next(t)
	if _, ok := ev.Query["token"]; ok || ev.Headers["authorization"] != "" || ev.Query["name"] != "x" {
		t.Fatalf("credentials forwarded: %+v", ev)
	}
}

// TestConnectFailures covers a backend that fails, stalls, refuses or
// answers garbage on connect.
func TestConnectFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  func(w http.ResponseWriter, r *http.Request)
		onError webhook.OnError
		code    codec.CloseCode // 0: the connection stays open
		reason  string
		log     string // in the logs
	}{
		{name: "500", answer: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) },
			code: codec.CloseInternalError, reason: "backend unavailable", log: "outcome=error"},
		{name: "slow", answer: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(wstest.Timeout):
			}
		}, code: codec.CloseInternalError, reason: "backend unavailable", log: "outcome=timeout"},
		{name: "refused", answer: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "not a member of this room"})
		}, code: codec.ClosePolicyViolation, reason: "not a member of this room"},
		{name: "refused without body", answer: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) },
			code: codec.ClosePolicyViolation, reason: "unauthorized"},
		{name: "bad actions", answer: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, map[string]any{"explode": true})
		}, code: codec.CloseInternalError, reason: "backend unavailable", log: "not valid actions"},
		{name: "redirect", answer: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, code: codec.CloseInternalError, reason: "backend unavailable", log: "302"},
		{name: "500 accepted", answer: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) },
			onError: webhook.Accept, log: "outcome=error"},
		{name: "slow accepted", answer: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			onError: webhook.Accept, log: "outcome=timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request, ev webhook.Event) {
				if ev.Type == "connect" {
					tc.answer(w, r)
					return
				}
				writeJSON(w, 200, map[string]any{"send": "echo:" + *ev.Message})
			})
			s := startServer(t, webhook.Config{URL: b.URL, Secret: secret, Timeout: 300 * time.Millisecond, OnError: tc.onError})
			start := time.Now()
			c := s.dial(t, "/ws/hook/1", nil)
			// Queued behind the connect call. When the connect fails, the
			// close may beat this write: the client's reader has then
			// answered it, and only the close matters below.
			if err := c.WriteMessage(websocket.TextMessage, []byte("early")); err != nil && tc.code == 0 {
				t.Fatalf("write: %v", err)
			}
			if b.next(t).Type != "connect" {
				t.Fatal("first call is not the connect")
			}
			if tc.code == 0 {
				if got := wstest.ReadString(t, c); got != "echo:early" {
					t.Fatalf("got %q", got)
				}
				if msg := b.next(t); msg.Type != "message" {
					t.Fatalf("got %+v", msg)
				}
			} else {
				_, reason := wstest.ExpectClose(t, c)
				if reason != tc.reason {
					t.Fatalf("close reason %q, want %q", reason, tc.reason)
				}
				select {
				case cc := <-s.closes:
					if cc.code != tc.code || cc.reason != tc.reason {
						t.Fatalf("asked to close with %d %q, want %d %q", cc.code, cc.reason, tc.code, tc.reason)
					}
				case <-time.After(wstest.Timeout):
					t.Fatal("no close")
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Fatalf("refused after %v", d)
				}
				// Neither the early message nor the disconnect is posted.
				b.quiet(t, 200*time.Millisecond)
			}
			if tc.log != "" {
				wstest.Eventually(t, "the failure in the logs", func() bool {
					l := s.logs.String()
					return strings.Contains(l, "webhook call failed") && strings.Contains(l, tc.log)
				})
			}
		})
	}
}

// TestMessageFailure: a failed message call is logged; the connection and
// the following messages carry on.
func TestMessageFailure(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, _ *http.Request, ev webhook.Event) {
		switch {
		case ev.Type == "message" && *ev.Message == "fail":
			http.Error(w, "boom", 500)
		case ev.Type == "message":
			writeJSON(w, 200, map[string]any{"send": *ev.Message})
		}
	})
	s := startServer(t, webhook.Config{URL: b.URL, Secret: secret})
	c := s.dial(t, "/ws/hook/1", nil)
	wstest.Send(t, c, "fail")
	wstest.Send(t, c, "ok")
	if got := wstest.ReadString(t, c); got != "ok" {
		t.Fatalf("got %q", got)
	}
	if !strings.Contains(s.logs.String(), "500: boom") {
		t.Fatalf("logs: %s", s.logs)
	}
}

// invalidCounter is an Observer counting invalid answers.
type invalidCounter struct{ n atomic.Int64 }

func (*invalidCounter) WebhookCall(string, string, webhook.Outcome, time.Duration) {}
func (c *invalidCounter) WebhookInvalidAnswer(route string) {
	if route == "/ws/hook/:id" {
		c.n.Add(1)
	}
}

// TestInvalidAnswers: an answer that is not valid actions, and one whose
// set_presence names a channel the connection does not track, are
// counted, logged with the connection's id and the error, and with
// ReportErrors posted back to the backend as error events; the
// connection carries on either way.
func TestInvalidAnswers(t *testing.T) {
	for _, report := range []bool{true, false} {
		t.Run(fmt.Sprintf("report=%v", report), func(t *testing.T) {
			t.Parallel()
			b := newBackend(t, func(w http.ResponseWriter, _ *http.Request, ev webhook.Event) {
				switch {
				case ev.Type == "message" && *ev.Message == "garbage":
					writeJSON(w, 200, map[string]any{"explode": true})
				case ev.Type == "message" && *ev.Message == "untracked":
					writeJSON(w, 200, map[string]any{"set_presence": map[string]string{"channel": "room:1", "state": "typing"}})
				case ev.Type == "message":
					writeJSON(w, 200, map[string]any{"send": *ev.Message})
				default:
					w.WriteHeader(http.StatusNoContent)
				}
			})
			obs := &invalidCounter{}
			s := startServer(t, webhook.Config{URL: b.URL, Secret: secret, ReportErrors: report, Observer: obs})
			c := s.dial(t, "/ws/hook/1", nil)
			id := b.next(t).ConnectionID
			for _, msg := range []string{"garbage", "untracked", "ok"} {
				wstest.Send(t, c, msg)
			}
			if got := wstest.ReadString(t, c); got != "ok" {
				t.Fatalf("got %q", got)
			}
			for range 3 {
				b.next(t) // the messages
			}
			if report {
				// Reports are posted in the background: in any order.
				got := []webhook.ErrorEvent{b.nextError(t), b.nextError(t)}
				slices.SortFunc(got, func(x, y webhook.ErrorEvent) int { return strings.Compare(y.Error, x.Error) })
				for i, want := range []string{"webhook: answer is not valid actions", `set_presence "room:1": presence: not tracked`} {
					e := got[i]
					if e.Type != "error" || e.ConnectionID != id || e.Event != "message" || e.Route != "/ws/hook/:id" || !strings.Contains(e.Error, want) {
						t.Errorf("error event %+v, want one for %s with %q", e, id, want)
					}
				}
			}
			b.quietErrors(t, wstest.Quiet)
			wstest.Eventually(t, "2 invalid answers counted", func() bool { return obs.n.Load() == 2 })
			logs := s.logs.String()
			for _, want := range []string{"conn=" + id, "not valid actions", "presence: not tracked"} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
		})
	}
}

// TestConcurrencyBound: no more than Concurrency calls are in flight, and
// every connection is served in the end.
func TestConcurrencyBound(t *testing.T) {
	var inFlight, peak atomic.Int64
	b := newBackend(t, func(w http.ResponseWriter, _ *http.Request, ev webhook.Event) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(30 * time.Millisecond)
		inFlight.Add(-1)
		if ev.Type == "connect" {
			writeJSON(w, 200, map[string]any{"send": "hi"})
		}
	})
	s := startServer(t, webhook.Config{URL: b.URL, Secret: secret, Concurrency: 2})
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			c, err := wstest.DialURL("ws://" + s.Addr().String() + "/ws/hook/1")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, msg, err := c.Next(wstest.Timeout); err != nil || string(msg) != "hi" {
				errs <- errors.New("no greeting: " + string(msg))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("peak of %d calls in flight, want at most 2", p)
	}
}

func TestNew(t *testing.T) {
	if _, err := webhook.New(webhook.Config{}); !errors.Is(err, webhook.ErrNoURL) {
		t.Fatalf("err %v", err)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"type":"connect"}`)
	now := time.Unix(1_700_000_000, 0)
	sign := func(ts int64, key string, b []byte) http.Header {
		h := http.Header{}
		h.Set(webhook.TimestampHeader, strconv.FormatInt(ts, 10))
		h.Set(webhook.SignatureHeader, webhook.Sign([]byte(key), ts, b))
		return h
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"valid", sign(now.Unix(), secret, body), body, nil},
		{"slightly old", sign(now.Unix()-60, secret, body), body, nil},
		{"stale", sign(now.Unix()-600, secret, body), body, webhook.ErrStale},
		{"future", sign(now.Unix()+600, secret, body), body, webhook.ErrStale},
		{"wrong secret", sign(now.Unix(), "other", body), body, webhook.ErrBadSignature},
		{"tampered body", sign(now.Unix(), secret, body), []byte(`{"type":"message"}`), webhook.ErrBadSignature},
		{"unsigned", http.Header{}, body, webhook.ErrNoSignature},
		{"bad timestamp", http.Header{webhook.TimestampHeader: {"x"}, webhook.SignatureHeader: {"sha256=00"}}, body, webhook.ErrNoSignature},
	} {
		if err := webhook.Verify([]byte(secret), tc.h, tc.body, now, 0); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	// The documented construction, spelled out.
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write([]byte("1700000000.body"))
	if got, want := webhook.Sign([]byte("k"), 1_700_000_000, []byte("body")), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}
