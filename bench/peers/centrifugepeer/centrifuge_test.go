package centrifugepeer_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/bench/peers/centrifugepeer"
)

func serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- centrifugepeer.Serve(ctx, ln, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "ws://" + ln.Addr().String() + centrifugepeer.Path
}

// client is one connection speaking centrifuge's JSON protocol.
type client struct {
	t    *testing.T
	c    *websocket.Conn
	msgs []map[string]json.RawMessage // read but not yet expected
}

func dial(t *testing.T, url, user string) *client {
	t.Helper()
	if user != "" {
		url += "?user=" + user
	}
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c}
}

// send writes commands in one frame, one per line.
func (c *client) send(cmds ...string) {
	c.t.Helper()
	if err := c.c.WriteMessage(websocket.TextMessage, []byte(strings.Join(cmds, "\n"))); err != nil {
		c.t.Fatal(err)
	}
}

// expect returns the first message (a reply or a push; a frame may hold
// several, one per line) that has key, failing after 5 s.
func (c *client) expect(key string) json.RawMessage {
	c.t.Helper()
	for {
		for i, m := range c.msgs {
			if v, ok := m[key]; ok {
				c.msgs = append(c.msgs[:i], c.msgs[i+1:]...)
				return v
			}
		}
		_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, p, err := c.c.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %q: %v (have %d others)", key, err, len(c.msgs))
		}
		for _, line := range strings.Split(string(p), "\n") {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				c.t.Fatalf("%q: %v", line, err)
			}
			c.msgs = append(c.msgs, m)
		}
	}
}

func TestProtocol(t *testing.T) {
	url := serve(t)
	a := dial(t, url, "alice")
	a.send(`{"id":1,"connect":{"name":"test"}}`, `{"id":2,"subscribe":{"channel":"presence:p1"}}`,
		`{"id":3,"presence":{"channel":"presence:p1"}}`)
	a.expect("connect")
	a.expect("subscribe")
	// A subscriber gets its own join too (the generator leaves it out).
	if push := string(a.expect("push")); !strings.Contains(push, `"join"`) || !strings.Contains(push, `"alice"`) {
		t.Fatalf("own join push: %s", push)
	}
	var pres struct {
		Presence map[string]struct{ User string } `json:"presence"`
	}
	if err := json.Unmarshal(a.expect("presence"), &pres); err != nil || len(pres.Presence) != 1 {
		t.Fatalf("presence: %+v %v", pres, err)
	}

	b := dial(t, url, "bob")
	b.send(`{"id":1,"connect":{}}`, `{"id":2,"subscribe":{"channel":"presence:p1"}}`)
	b.expect("connect")
	b.expect("subscribe")
	if push := string(a.expect("push")); !strings.Contains(push, `"join"`) || !strings.Contains(push, `"bob"`) {
		t.Fatalf("join push: %s", push)
	}
	b.c.Close()
	if push := string(a.expect("push")); !strings.Contains(push, `"leave"`) || !strings.Contains(push, `"bob"`) {
		t.Fatalf("leave push: %s", push)
	}

	r := dial(t, url, "")
	r.send(`{"id":1,"connect":{}}`, `{"id":2,"subscribe":{"channel":"room:r1"}}`,
		`{"id":3,"publish":{"channel":"room:r1","data":{"type":"room","payload":{"s":1}}}}`,
		`{"id":4,"rpc":{"method":"echo","data":{"type":"echo","payload":{"s":2}}}}`)
	r.expect("connect")
	r.expect("subscribe")
	r.expect("publish")
	if push := string(r.expect("push")); !strings.Contains(push, `"pub":{"data":{"type":"room","payload":{"s":1}}`) {
		t.Fatalf("publication: %s", push)
	}
	if rpc := string(r.expect("rpc")); rpc != `{"data":{"type":"echo","payload":{"s":2}}}` {
		t.Fatalf("rpc: %s", rpc)
	}
}
