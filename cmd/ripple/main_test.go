package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/config"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/webhook"
)

// TestBinarySIGTERM builds the command, runs it on a free port, and checks
// the drain: a connected client gets close 1001 and the process exits 0
// within the grace period.
func TestBinarySIGTERM(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	bin := filepath.Join(t.TempDir(), "ripple")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const grace = 5 * time.Second
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-log-format", "json", "-grace", grace.String())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan map[string]any, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})

	base := listeningURL(t, lines)
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "ws/echo"
	c, err := wstest.DialURL(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wstest.Send(t, c, "ping?")
	if got := wstest.ReadString(t, c); got != "ping?" {
		t.Fatalf("echo %q", got)
	}
	if body := get(t, base+"healthz", 200); body != "ok\n" {
		t.Fatalf("/healthz %q", body)
	}
	if body := get(t, base+"metrics", 200); !strings.Contains(body, "\nripple_connections 1\n") {
		t.Fatalf("/metrics lacks ripple_connections 1:\n%.2000s", body)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, reason := wstest.ExpectClose(t, c); code != websocket.CloseGoingAway {
		t.Fatalf("close %d %q, want 1001", code, reason)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(grace + 2*time.Second):
		t.Fatal("the process did not exit within the grace period")
	}
	t.Logf("drained and exited in %v", time.Since(start))
	var msgs []string
	for m := range lines {
		msgs = append(msgs, m["msg"].(string))
	}
	if !slices.Contains(msgs, "stopped") {
		t.Fatalf("no stopped line after the drain: %q", msgs)
	}
}

// listeningURL waits for the "ripple listening" line and returns its url.
func listeningURL(t *testing.T, lines <-chan map[string]any) string {
	t.Helper()
	timeout := time.After(wstest.Timeout)
	for {
		select {
		case m, ok := <-lines:
			if !ok {
				t.Fatal("the process ended before listening")
			}
			if m["msg"] == "ripple listening" {
				u, _ := m["url"].(string)
				if !strings.HasPrefix(u, "http://127.0.0.1:") {
					t.Fatalf("listening line %v", m)
				}
				return u
			}
		case <-timeout:
			t.Fatal("no listening line")
		}
	}
}

func get(t *testing.T, u string, status int) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, status, body)
	}
	return string(body)
}

// syncBuffer collects logs written from several goroutines.
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

// startApp runs the server of a YAML config on a free port.
func startApp(t *testing.T, yaml string, args ...string) (*app, *syncBuffer) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ripple.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(append([]string{"-config", file, "-addr", "127.0.0.1:0"}, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := newApp(cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.shutdown() })
	return a, logs
}

func (a *app) url(scheme, path string) string { return scheme + "://" + a.srv.Addr().String() + path }

const jwtSecret = "jwt-secret-for-tests"

func signed(t *testing.T, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDedicated runs a configured server: a webhook route to a real
// backend, JWT auth, the presence route tracking the token's subject, a
// public route, the API, /healthz and /metrics.
func TestDedicated(t *testing.T) {
	events := make(chan webhook.Event, 64)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify([]byte("hook-secret"), r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		var ev webhook.Event
		_ = json.Unmarshal(body, &ev)
		events <- ev
		w.Header().Set("Content-Type", "application/json")
		switch ev.Type {
		case "connect":
			_, _ = io.WriteString(w, `{"join":"order:`+ev.Params["id"]+`","send":"hello `+ev.User+`"}`)
		case "message":
			_, _ = io.WriteString(w, `{"broadcast_room":{"channel":"order:`+ev.Params["id"]+`","message":"`+ev.User+`: `+*ev.Message+`"}}`)
		}
	}))
	defer backend.Close()

	a, logs := startApp(t, `
jwt-secret: `+jwtSecret+`
webhook-secret: hook-secret
api-key: k
routes:
  - path: /ws/orders/:id
    webhook: `+backend.URL+`/ripple
  - path: /ws/presence/:room_id
    handler: presence
    presence-user: jwt
  - path: /ws/echo
    handler: echo
    auth: none
`, "-log-level", "debug")
	dial := func(path string) (*wstest.Client, error) { return wstest.DialURL(a.url("ws", path)) }

	t.Run("webhook with a token", func(t *testing.T) {
		c, err := dial("/ws/orders/9?token=" + signed(t, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := wstest.ReadString(t, c); got != "hello alice" {
			t.Fatalf("got %q", got)
		}
		ev := <-events
		if ev.User != "alice" || ev.Params["id"] != "9" || ev.Query["token"] != "" {
			t.Fatalf("connect event %+v", ev)
		}
		wstest.Send(t, c, "ship it")
		if got := wstest.ReadString(t, c); got != "alice: ship it" {
			t.Fatalf("got %q", got)
		}
		// The API reaches the webhook route's channel too.
		req, _ := http.NewRequest("POST", a.url("http", "/api/broadcast_room"), strings.NewReader(`{"channel":"order:9","message":"from the app"}`))
		req.Header.Set("Authorization", "Bearer k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("API: %v %v", resp, err)
		}
		resp.Body.Close()
		if got := wstest.ReadString(t, c); got != "from the app" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("no token", func(t *testing.T) {
		for _, p := range []string{"/ws/orders/9", "/ws/presence/1?user_id=mallory"} {
			if _, err := dial(p); err == nil || !strings.Contains(err.Error(), "status 401") {
				t.Fatalf("%s: %v, want 401", p, err)
			}
		}
		if _, err := dial("/ws/orders/9?token=" + signed(t, "alice") + "x"); err == nil || !strings.Contains(err.Error(), "status 401") {
			t.Fatalf("bad signature: %v, want 401", err)
		}
	})
	t.Run("public route", func(t *testing.T) {
		c, err := dial("/ws/echo")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wstest.Send(t, c, "x")
		if got := wstest.ReadString(t, c); got != "x" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("presence tracks the token's subject", func(t *testing.T) {
		c, err := dial("/ws/presence/1?user_id=mallory&name=Bob&token=" + signed(t, "bob"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		state := wstest.ReadJSON(t, c)
		payload, _ := state["payload"].(map[string]any)
		if _, ok := payload["bob"]; state["event"] != "presence_state" || !ok || len(payload) != 1 {
			t.Fatalf("presence_state %v", state)
		}
		if _, ok := a.srv.GetPresence("room:1", "bob"); !ok {
			t.Fatal("bob is not present")
		}
		wstest.Send(t, c, `{"type":"chat","text":"hi","user_id":"mallory"}`)
		msg := wstest.ReadJSON(t, c)
		if msg["user_id"] != "bob" || msg["name"] != "Bob" || msg["text"] != "hi" {
			t.Fatalf("message stamped %v", msg)
		}
	})
	t.Run("health and metrics", func(t *testing.T) {
		if body := get(t, a.url("http", "/healthz"), 200); body != "ok\n" {
			t.Fatalf("/healthz %q", body)
		}
		body := get(t, a.url("http", "/metrics"), 200)
		for _, want := range []string{
			`ripple_webhook_duration_seconds_count{event="connect",outcome="ok",route="/ws/orders/:id"} 1`,
			`ripple_connections_rejected_total{reason="unauthorized",status="401"} 3`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	wstest.Eventually(t, "the connection logs", func() bool {
		l := logs.String()
		return strings.Contains(l, `msg="connection open"`) && strings.Contains(l, "route=/ws/orders/:id") &&
			strings.Contains(l, "user=alice") && strings.Contains(l, `msg="connection closed"`)
	})
}

func TestDemoDefaults(t *testing.T) {
	a, logs := startApp(t, "", "-metrics=false")
	c, err := wstest.DialURL(a.url("ws", "/ws/room/1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wstest.Send(t, c, `{"a":1}`)
	if got := wstest.ReadString(t, c); got != `{"a":1}` {
		t.Fatalf("got %q", got)
	}
	if body := get(t, a.url("http", "/"), 200); !strings.Contains(body, "<html") {
		t.Fatalf("/ is not the demo page: %.200s", body)
	}
	get(t, a.url("http", "/metrics"), 404)
	var status map[string]any
	resp, err := http.Post(a.url("http", "/api/count"), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if status["count"] != 1.0 {
		t.Fatalf("/api/count %v", status)
	}
	a.draining.Store(true)
	get(t, a.url("http", "/healthz"), 503)
	if strings.Contains(logs.String(), "connection open") {
		t.Fatal("connection events logged at info level")
	}
}

func TestRunErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ripple.yaml")
	if err := os.WriteFile(file, []byte("addr: :0\nmax_message_size: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want error
		msg  string
	}{
		{[]string{"-redis", "http://127.0.0.1:6379"}, nil, "redis http://127.0.0.1:6379: cluster: redis: invalid URL scheme: http"},
		{[]string{"-config", file}, config.ErrUnknownKey, `unknown key "max_message_size" (did you mean max-message-size?)`},
		{[]string{"-loops", "-1"}, nil, "-loops: -1 is below the minimum 0"},
		{[]string{"-h"}, flag.ErrHelp, ""},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, &out)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v, want %v %q", tc.args, err, tc.want, tc.msg)
		}
	}
}

// TestRunStops: run returns nil once its context ends.
func TestRunStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-grace", "2s"}, logs) }()
	wstest.Eventually(t, "the listening line", func() bool { return strings.Contains(logs.String(), "ripple listening") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wstest.Timeout):
		t.Fatal("run did not return")
	}
	if !strings.Contains(logs.String(), `msg=stopped`) {
		t.Fatalf("logs: %s", logs)
	}
}

func TestDisplayURL(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:80", "http://127.0.0.1:80/"},
		{"[::]:8080", "http://localhost:8080/"},
		{"0.0.0.0:8080", "http://localhost:8080/"},
		{"[::1]:9", "http://[::1]:9/"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := displayURL(a); got != tc.want {
			t.Errorf("displayURL(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

func TestBuiltinsMatchConfig(t *testing.T) {
	for _, name := range config.Builtins {
		if builtins[name] == nil {
			t.Errorf("config.Builtins names %q, which has no handler", name)
		}
	}
	if len(builtins) != len(config.Builtins) {
		t.Errorf("%d handlers for %d names", len(builtins), len(config.Builtins))
	}
	for _, name := range config.TopicBuiltins {
		if channelBuiltins[name] == nil {
			t.Errorf("config.TopicBuiltins names %q, which has no channel handler", name)
		}
	}
	if len(channelBuiltins) != len(config.TopicBuiltins) {
		t.Errorf("%d channel handlers for %d names", len(channelBuiltins), len(config.TopicBuiltins))
	}
}

// TestTopics: the demo topics by default, and configured topics: a
// built-in channel whose joins need a token, and a webhook-owned one.
func TestTopics(t *testing.T) {
	t.Run("demo", func(t *testing.T) {
		a, _ := startApp(t, "", "-metrics=false")
		raw, err := wstest.DialURL(a.url("ws", "/ws/room/1"))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		p := wstest.DialPhx(t, a.url("ws", "/socket/websocket?vsn=2.0.0"))
		if m := p.Join(t, "room:1", nil); m.Status() != "ok" {
			t.Fatalf("join room:1: %v", m)
		}
		p.Join(t, "echo:x", nil)
		if m := p.Call(t, "echo:x", "ping", map[string]int{"n": 1}); string(m.Response()) != `{"n":1}` {
			t.Fatalf("echo: %v", m)
		}
		wstest.Send(t, raw, `{"a":1}`)
		if m := p.Event(t, "room:1", "message"); string(m.Payload) != `{"a":1}` {
			t.Fatalf("raw message on room:1: %v", m)
		}
	})
	t.Run("configured", func(t *testing.T) {
		events := make(chan webhook.Event, 16)
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var ev webhook.Event
			_ = json.NewDecoder(r.Body).Decode(&ev)
			events <- ev
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"reply":{"status":"ok","response":{"user":"`+ev.User+`"}}}`)
		}))
		defer backend.Close()
		a, _ := startApp(t, `
jwt-secret: `+jwtSecret+`
routes:
  - topic: "room::room_id"
    handler: room
  - topic: "orders:*"
    webhook: `+backend.URL+`
    auth: optional
`, "-max-channels", "3")
		anon := wstest.DialPhx(t, a.url("ws", "/socket/websocket?vsn=2.0.0"))
		if m := anon.Join(t, "room:1", nil); m.Status() != "error" || string(m.Response()) != `{"reason":"unauthorized"}` {
			t.Fatalf("join without a token: %v", m)
		}
		if m := anon.Join(t, "orders:1", nil); m.Status() != "ok" || string(m.Response()) != `{"user":""}` {
			t.Fatalf("optional topic without a token: %v", m)
		}
		ann := wstest.DialPhx(t, a.url("ws", "/socket/websocket?vsn=2.0.0&token="+signed(t, "ann")))
		if m := ann.Join(t, "room:1", nil); m.Status() != "ok" {
			t.Fatalf("join with a token: %v", m)
		}
		if m := ann.Join(t, "orders:2", nil); string(m.Response()) != `{"user":"ann"}` {
			t.Fatalf("webhook topic with a token: %v", m)
		}
		if ev := <-events; ev.Topic != "orders:1" || ev.Route != "orders:*" {
			t.Fatalf("webhook event %+v", ev)
		}
		if _, err := wstest.DialURL(a.url("ws", "/socket/websocket?vsn=2.0.0&token=forged")); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("a bad token: %v", err)
		}
	})
}

// TestHistoryDefaults: a bare server keeps the demo rooms' history, the API
// reads it and /metrics counts it; -history none turns it off.
func TestHistoryDefaults(t *testing.T) {
	a, _ := startApp(t, "")
	post := func(name, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(a.url("http", "/api/"+name), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for range 3 {
		post("broadcast_room", `{"channel":"room:h","message":"hello"}`)
	}
	if code, body := post("history", `{"channel":"room:h","limit":1}`); code != 200 ||
		!strings.Contains(body, `"offset":3,"publications":[{"offset":1,"message":"hello"}]`) {
		t.Fatalf("history: %d %s", code, body)
	}
	body := get(t, a.url("http", "/metrics"), 200)
	for _, want := range []string{"\nripple_history_publications_total 3\n", "\nripple_history_channels 1\n",
		"\nripple_history_retained_publications 3\n", "\nripple_history_memory_bytes 159\n"} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
	off, _ := startApp(t, "", "-history", "none")
	resp, err := http.Post(off.url("http", "/api/history"), "application/json", strings.NewReader(`{"channel":"room:h"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("history with -history none: %d, want 404", resp.StatusCode)
	}
}
