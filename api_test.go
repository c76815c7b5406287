package ripple_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/httpapi"
	"github.com/ripple-rt/ripple/internal/wstest"
)

func TestAPI(t *testing.T) {
	s := startScripted(t, ripple.Config{})
	a := s.Dial(t, "/ws/script")
	b := s.Dial(t, "/ws/script")
	wstest.Eventually(t, "2 connections", func() bool { return s.Count() == 2 })

	status, out := s.PostAPI(t, "count", `{}`)
	if status != 200 || out["count"] != 2.0 {
		t.Fatalf("count = %d %v", status, out)
	}
	_, out = s.PostAPI(t, "clients", ``)
	ids := out["clients"].([]any)
	if len(ids) != 2 {
		t.Fatalf("clients = %v", out)
	}
	// Learn which id is a's: send to the first and see who gets it.
	idA, idB := ids[0].(string), ids[1].(string)
	if status, out := s.PostAPI(t, "send", `{"connection_id":"`+idA+`","message":"who"}`); status != 200 || out["delivered"] != true {
		t.Fatalf("send = %d %v", status, out)
	}
	if _, msg, err := a.Next(wstest.Quiet); err != nil || string(msg) != "who" {
		idA, idB = idB, idA
		_ = wstest.ReadString(t, b)
	}

	if status, out := s.PostAPI(t, "join", `{"connection_id":"`+idB+`","channel":"room:api"}`); status != 200 || out["ok"] != true {
		t.Fatalf("join = %d %v", status, out)
	}
	_, out = s.PostAPI(t, "clients_in", `{"channel":"room:api"}`)
	if got := out["clients"].([]any); len(got) != 1 || got[0] != idB {
		t.Fatalf("clients_in = %v", out)
	}
	_, out = s.PostAPI(t, "broadcast_room", `{"channel":"room:api","message":"room msg"}`)
	if out["recipients"] != 1.0 || wstest.ReadString(t, b) != "room msg" {
		t.Fatalf("broadcast_room = %v", out)
	}
	wstest.ExpectSilence(t, a, wstest.Quiet)
	_, out = s.PostAPI(t, "broadcast", `{"message":"to all"}`)
	if out["recipients"] != 2.0 || wstest.ReadString(t, a) != "to all" || wstest.ReadString(t, b) != "to all" {
		t.Fatalf("broadcast = %v", out)
	}
	if status, _ := s.PostAPI(t, "leave", `{"connection_id":"`+idB+`","channel":"room:api"}`); status != 200 {
		t.Fatalf("leave = %d", status)
	}
	_, out = s.PostAPI(t, "clients_in", `{"channel":"room:api"}`)
	if got := out["clients"].([]any); len(got) != 0 {
		t.Fatalf("clients_in after leave = %v", out)
	}

	// Presence endpoints.
	wstest.Send(t, a, `{"track":{"channel":"room:p","user_id":"u1","name":"Ann"}}`)
	_ = wstest.ReadJSON(t, a)
	_, out = s.PostAPI(t, "list_presence", `{"channel":"room:p"}`)
	ps := out["presences"].([]any)
	if len(ps) != 1 || ps[0].(map[string]any)["user_id"] != "u1" {
		t.Fatalf("list_presence = %v", out)
	}
	_, out = s.PostAPI(t, "presence_count", `{"channel":"room:p"}`)
	if out["count"] != 1.0 {
		t.Fatalf("presence_count = %v", out)
	}
	status, out = s.PostAPI(t, "get_presence", `{"channel":"room:p","user_id":"u1"}`)
	if status != 200 || out["user_id"] != "u1" || len(out["metas"].([]any)) != 1 {
		t.Fatalf("get_presence = %d %v", status, out)
	}
	if status, _ := s.PostAPI(t, "get_presence", `{"channel":"room:p","user_id":"nobody"}`); status != 404 {
		t.Fatalf("get_presence unknown = %d", status)
	}

	// leave untracks: no presence read lists the connection any more.
	if status, _ := s.PostAPI(t, "leave", `{"connection_id":"`+idA+`","channel":"room:p"}`); status != 200 {
		t.Fatalf("leave = %d", status)
	}
	if _, out = s.PostAPI(t, "list_presence", `{"channel":"room:p"}`); len(out["presences"].([]any)) != 0 {
		t.Fatalf("list_presence after leave = %v", out)
	}
	if _, out = s.PostAPI(t, "presence_count", `{"channel":"room:p"}`); out["count"] != 0.0 {
		t.Fatalf("presence_count after leave = %v", out)
	}
	if status, _ := s.PostAPI(t, "get_presence", `{"channel":"room:p","user_id":"u1"}`); status != 404 {
		t.Fatalf("get_presence after leave = %d", status)
	}

	// close: the client sees 1000 with the reason.
	if _, out := s.PostAPI(t, "close", `{"connection_id":"`+idA+`","reason":"Session expired"}`); out["closed"] != true {
		t.Fatalf("close = %v", out)
	}
	if code, reason := wstest.ExpectClose(t, a); code != 1000 || reason != "Session expired" {
		t.Fatalf("close frame = %d %q", code, reason)
	}
	wstest.Eventually(t, "count 1", func() bool { return s.Count() == 1 })
	wstest.Eventually(t, "presence cleared", func() bool { return s.PresenceCount("room:p") == 0 })
}

func TestAPIErrors(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"send", `{"connection_id":"nope","message":"x"}`, 404},
		{"send", `{"message":"x"}`, 400},
		{"send", `{"connection_id":"x"}`, 400},
		{"send", `not json`, 400},
		{"broadcast_room", `{"message":"x"}`, 400},
		{"join", `{"connection_id":"nope","channel":"c"}`, 404},
		{"join", `{"connection_id":"nope"}`, 400},
		{"clients_in", `{}`, 400},
		{"close", `{"connection_id":"nope"}`, 200},
		{"get_presence", `{"channel":"c"}`, 400},
		{"nosuchcall", `{}`, 404},
	} {
		status, out := s.PostAPI(t, tc.name, tc.body)
		if status != tc.status {
			t.Errorf("%s %s = %d %v, want %d", tc.name, tc.body, status, out, tc.status)
		}
		if status >= 400 && out["error"] == "" {
			t.Errorf("%s: no error text in %v", tc.name, out)
		}
	}
	resp, err := http.Get("http://" + s.Addr + "/api/count")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET = %d", resp.StatusCode)
	}
}

func TestAPIKeyAndLoopbackRule(t *testing.T) {
	srv := ripple.New(ripple.Config{})
	keyed := httpapi.New(srv, httpapi.Config{APIKey: "k1"})
	open := httpapi.New(srv, httpapi.Config{})
	for _, tc := range []struct {
		h      http.Handler
		remote string
		auth   string
		status int
	}{
		{keyed, "127.0.0.1:1", "", 401},
		{keyed, "127.0.0.1:1", "Bearer wrong", 401},
		{keyed, "203.0.113.9:1", "Bearer k1", 200},
		{open, "127.0.0.1:1", "", 200},
		{open, "[::1]:1", "", 200},
		{open, "203.0.113.9:1", "", 403},
	} {
		req := httptest.NewRequest("POST", "/api/count", strings.NewReader("{}"))
		req.RemoteAddr = tc.remote
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		tc.h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("remote %s auth %q = %d, want %d (%s)", tc.remote, tc.auth, rec.Code, tc.status, rec.Body)
		}
	}
}
