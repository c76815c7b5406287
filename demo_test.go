package ripple_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/internal/wstest"
)

const quiet = 150 * time.Millisecond

func TestChatRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	a := s.Dial(t, "/ws/chat")
	joinA := wstest.ReadJSON(t, a)
	if joinA["type"] != "join" || joinA["user"] == "" {
		t.Fatalf("join notice = %v", joinA)
	}
	b := s.Dial(t, "/ws/chat")
	for _, c := range []*wstest.Client{a, b} {
		if m := wstest.ReadJSON(t, c); m["type"] != "join" || m["user"] == joinA["user"] {
			t.Fatalf("second join notice = %v", m)
		}
	}
	wstest.Send(t, b, "hello everyone")
	for _, c := range []*wstest.Client{a, b} {
		if got := wstest.ReadString(t, c); got != "hello everyone" {
			t.Fatalf("broadcast = %q", got)
		}
	}
}

func TestRoomRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	a1 := s.Dial(t, "/ws/room/a")
	a2 := s.Dial(t, "/ws/room/a")
	b1 := s.Dial(t, "/ws/room/b")
	wstest.Eventually(t, "3 connections", func() bool { return s.Count() == 3 })

	wstest.Send(t, a1, `{ "text" : "hi" }`)
	for _, c := range []*wstest.Client{a1, a2} {
		if got := wstest.ReadString(t, c); got != `{"text":"hi"}` {
			t.Fatalf("room message = %q, want the re-encoded JSON", got)
		}
	}
	wstest.ExpectSilence(t, b1, quiet)

	wstest.Send(t, a2, `not json`)
	if m := wstest.ReadJSON(t, a2); m["type"] != "error" || m["error"] == "" {
		t.Fatalf("error reply = %v", m)
	}
	wstest.ExpectSilence(t, a1, quiet)
	if ids := s.ClientsIn("room:a"); len(ids) != 2 {
		t.Fatalf("ClientsIn(room:a) = %v", ids)
	}
}

func TestEchoRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	c := s.Dial(t, "/ws/echo")
	for _, tc := range []struct {
		typ int
		msg string
	}{{websocket.TextMessage, "héllo"}, {websocket.BinaryMessage, "\x00\x01\xff"}, {websocket.TextMessage, ""}} {
		if err := c.WriteMessage(tc.typ, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		typ, got := wstest.Read(t, c)
		if typ != tc.typ || string(got) != tc.msg {
			t.Fatalf("echo = %d %q, want %d %q", typ, got, tc.typ, tc.msg)
		}
	}
}

func TestShootoutRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	a := s.Dial(t, "/ws/shootout")
	b := s.Dial(t, "/ws/shootout")
	wstest.Eventually(t, "2 connections", func() bool { return s.Count() == 2 })

	wstest.Send(t, a, `{"type":"echo","payload":{"n":1}}`)
	if got := wstest.ReadString(t, a); got != `{"type":"echo","payload":{"n":1}}` {
		t.Fatalf("echo = %q", got)
	}
	wstest.Send(t, a, `{"type":"broadcast","payload":"x"}`)
	got := map[string]int{}
	for range 2 {
		got[wstest.ReadString(t, a)]++
	}
	if got[`{"type":"broadcast","payload":"x"}`] != 1 || got[`{"type":"broadcastResult","payload":"x"}`] != 1 {
		t.Fatalf("sender got %v", got)
	}
	if m := wstest.ReadString(t, b); m != `{"type":"broadcast","payload":"x"}` {
		t.Fatalf("other got %q", m)
	}
}

func TestUnknownRouteIs404(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	_, resp, err := websocket.DefaultDialer.Dial(s.URL("/ws/nope"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dial unknown route: err=%v resp=%v", err, resp)
	}
}

func TestPlainHTTPOnSamePort(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 5)
		n, _ := r.Body.Read(body)
		_, _ = w.Write([]byte("hi " + string(body[:n])))
	})
	s := wstest.Start(t, ripple.Config{HTTPHandler: mux}, nil)
	client := &http.Client{Timeout: wstest.Timeout}
	for range 3 { // keep-alive: several requests on one connection
		resp, err := client.Post("http://"+s.Addr+"/hello", "text/plain", strings.NewReader("there"))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if string(buf[:n]) != "hi there" {
			t.Fatalf("body = %q", buf[:n])
		}
	}
}
