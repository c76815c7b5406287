package wstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/httpapi"
)

// Timeout bounds every wait in these helpers.
const Timeout = 10 * time.Second

// Quiet is how long a test listens for a message that must not come.
const Quiet = 150 * time.Millisecond

// Server is a running server with the demo routes and the API.
type Server struct {
	*ripple.Server
	Addr string // host:port
}

// Start runs a server on 127.0.0.1:0 with the demo routes and the HTTP API,
// plus the extra routes, and shuts it down when the test ends.
func Start(t testing.TB, cfg ripple.Config, extra map[string]ripple.Handler) *Server {
	t.Helper()
	mux := http.NewServeMux()
	if cfg.HTTPHandler == nil {
		cfg.HTTPHandler = mux
	}
	srv := ripple.New(cfg)
	mux.Handle(httpapi.Prefix, httpapi.New(srv, httpapi.Config{}))
	if err := handlers.Register(srv); err != nil {
		t.Fatal(err)
	}
	for p, h := range extra {
		if err := srv.Handle(p, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &Server{Server: srv, Addr: srv.Addr().String()}
}

// URL is the ws:// URL of path on s.
func (s *Server) URL(path string) string { return "ws://" + s.Addr + path }

// Engine is a running engine, for tests of package engine.
type Engine struct {
	*engine.Engine
	Addr string // host:port
}

// StartEngine runs an engine with cfg and routes (and no others) on
// 127.0.0.1:0, and shuts it down when the test ends; a Shutdown that fails
// fails the test.
func StartEngine(t testing.TB, cfg engine.Config, routes ...engine.Route) *Engine {
	t.Helper()
	e := engine.New(cfg)
	for _, r := range routes {
		if err := e.Handle(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &Engine{Engine: e, Addr: e.Addr().String()}
}

// URL is the ws:// URL of path on s.
func (s *Engine) URL(path string) string { return "ws://" + s.Addr + path }

// Dial opens a WebSocket to path and closes it when the test ends.
func (s *Engine) Dial(t testing.TB, path string) *Client {
	t.Helper()
	return dial(t, s.URL(path))
}

// Upgrade opens a Raw client upgraded on path and closes it when the test
// ends.
func (s *Engine) Upgrade(t testing.TB, path string) *Raw {
	t.Helper()
	r, err := Upgrade(s.Addr, path)
	if err != nil {
		t.Fatalf("upgrade %s: %v", path, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// Scripted is a handler that answers every message with the actions it
// spells in the seed's dict format (see engine.DecodeReply), so a test can
// drive any combination over the wire; a malformed one is answered with
// "error: " and the reason.
func Scripted(ev *engine.Event) engine.Reply {
	if ev.Type != engine.Message {
		return engine.Reply{}
	}
	r, err := engine.DecodeReply(ev.Message)
	if err != nil {
		return engine.Reply{Send: []byte("error: " + err.Error())}
	}
	return r
}

// Client is a WebSocket client whose messages are read by a goroutine into
// a queue, so that a test can wait for a message or for silence without
// breaking the connection (gorilla's reads cannot time out and continue).
type Client struct {
	*websocket.Conn
	msgs chan frame
}

type frame struct {
	typ int
	msg []byte
	err error
}

// Dial opens a WebSocket to path and closes it when the test ends.
func (s *Server) Dial(t testing.TB, path string) *Client {
	t.Helper()
	return dial(t, s.URL(path))
}

func dial(t testing.TB, url string) *Client {
	t.Helper()
	c, err := DialURL(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// DialURL opens a WebSocket to url.
func DialURL(url string) (*Client, error) {
	d := websocket.Dialer{HandshakeTimeout: Timeout}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (status %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	return Wrap(conn), nil
}

// Wrap starts reading conn into a queue.
func Wrap(conn *websocket.Conn) *Client {
	c := &Client{Conn: conn, msgs: make(chan frame, 1024)}
	go func() {
		for {
			typ, msg, err := conn.ReadMessage()
			c.msgs <- frame{typ, msg, err}
			if err != nil {
				close(c.msgs)
				return
			}
		}
	}()
	return c
}

// Next returns the next message or read error, or an error after d.
func (c *Client) Next(d time.Duration) (int, []byte, error) {
	select {
	case f, ok := <-c.msgs:
		if !ok {
			return 0, nil, errors.New("connection already failed")
		}
		return f.typ, f.msg, f.err
	case <-time.After(d):
		return 0, nil, errTimeout
	}
}

var errTimeout = errors.New("wstest: timed out")

// Read returns the next message, failing the test after Timeout.
func Read(t testing.TB, c *Client) (int, []byte) {
	t.Helper()
	typ, msg, err := c.Next(Timeout)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, msg
}

// ReadString returns the next message as a string.
func ReadString(t testing.TB, c *Client) string {
	t.Helper()
	_, msg := Read(t, c)
	return string(msg)
}

// ReadJSON decodes the next message into a map.
func ReadJSON(t testing.TB, c *Client) map[string]any {
	t.Helper()
	_, msg := Read(t, c)
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatalf("message %q is not JSON: %v", msg, err)
	}
	return m
}

// ExpectSilence checks that nothing arrives on c within d.
func ExpectSilence(t testing.TB, c *Client, d time.Duration) {
	t.Helper()
	if _, msg, err := c.Next(d); err != errTimeout {
		t.Fatalf("expected silence, got %q, %v", msg, err)
	}
}

// ExpectClose reads until the server's close frame and returns its code and
// reason.
func ExpectClose(t testing.TB, c *Client) (int, string) {
	t.Helper()
	for {
		_, _, err := c.Next(Timeout)
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce.Code, ce.Text
		}
		t.Fatalf("expected a close frame, got %v", err)
	}
}

// Send writes a text message.
func Send(t testing.TB, c *Client, msg string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(Timeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// Eventually polls cond every few milliseconds until it holds, failing the
// test after Timeout with what.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// PostAPI calls POST /api/<name> with body and returns the status and the
// decoded JSON answer.
func (s *Server) PostAPI(t testing.TB, name, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+s.Addr+httpapi.Prefix+name, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", name, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("POST %s: answer is not JSON: %v", name, err)
	}
	return resp.StatusCode, m
}
