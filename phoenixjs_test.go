package ripple_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/httpapi"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/phoenix/phxjs"
	"github.com/ripple-rt/ripple/presence"
)

// The real phoenix npm package (Socket, Channel, Presence) against the demo
// server: phoenix.js in Node through package phxjs, with the ws package as
// its WebSocket, or its LongPoll transport.

// socketURL is the endpoint phoenix.js is given: it appends /websocket or
// /longpoll itself.
func socketURL(addr string) string { return "ws://" + addr + "/socket" }

// users is a Presence list's users with the number of metas each.
func users(list []phxjs.Present) string {
	var parts []string
	for _, p := range list {
		parts = append(parts, fmt.Sprintf("%s:%d", p.User, p.Metas))
	}
	return strings.Join(parts, " ")
}

// hasUsers reports whether list has exactly the users want ("ann bob"),
// whatever their metas.
func hasUsers(list []phxjs.Present, want string) bool {
	got := phxjs.Users(list)
	names := strings.Fields(want)
	if len(got) != len(names) {
		return false
	}
	for _, n := range names {
		if _, ok := got[n]; !ok {
			return false
		}
	}
	return true
}

func TestPhoenixJS(t *testing.T) {
	s := wstest.Start(t, ripple.Config{PresenceInterval: -1}, nil)
	d := phxjs.Start(t)

	d.Socket("s", socketURL(s.Addr), nil, nil)
	d.Expect("open", func(e phxjs.Event) bool { return e.Ev == "open" && e.Socket == "s" })

	t.Run("join", func(t *testing.T) {
		d.Channel("room", "s", "room:1", nil, false)
		if e := d.Join("room"); e.Status != "ok" || string(e.Resp) != "{}" {
			t.Fatalf("join: %v", e)
		}
	})
	t.Run("refused join", func(t *testing.T) {
		d.Channel("nope", "s", "nope:1", nil, false)
		if e := d.Join("nope"); e.Status != "error" || string(e.Resp) != `{"reason":"unmatched topic"}` {
			t.Fatalf("join: %v", e)
		}
	})
	t.Run("push with reply", func(t *testing.T) {
		d.Channel("echo", "s", "echo:js", nil, false)
		d.Join("echo")
		if e := d.Push("echo", "hello", map[string]any{"n": []int{1, 2}}); e.Status != "ok" || string(e.Resp) != `{"n":[1,2]}` {
			t.Fatalf("echo: %v", e)
		}
		// A push in room:1 is broadcast back to the pusher's channel.
		if e := d.Push("room", "new_msg", map[string]any{"body": "hi"}); e.Status != "ok" {
			t.Fatalf("room push: %v", e)
		}
		if e := d.Msg("room", "new_msg"); string(e.Payload) != `{"body":"hi"}` {
			t.Fatalf("broadcast: %v", e)
		}
		if e := d.Push("room", "new_msg", "not an object"); e.Status != "error" {
			t.Fatalf("a refused push: %v", e)
		}
	})
	t.Run("leave", func(t *testing.T) {
		d.Leave("echo")
		d.Expect("the channel closed", func(e phxjs.Event) bool { return e.Ev == "closed" && e.Ch == "echo" })
	})
}

// TestPhoenixJSPresence: two users, the first with two tabs, in both
// presence modes; user mode keeps the multi-device rule (one join and one
// leave per user), connection mode shows every tab.
func TestPhoenixJSPresence(t *testing.T) {
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		t.Run("mode="+mode.String(), func(t *testing.T) {
			s := wstest.Start(t, ripple.Config{PresenceMode: mode}, nil)
			d := phxjs.Start(t)
			join := func(sock, user string) {
				d.Socket(sock, socketURL(s.Addr), nil, nil)
				d.Channel(sock, sock, "room:p", map[string]any{"user_id": user, "name": strings.ToUpper(user)}, true)
				if e := d.Join(sock); e.Status != "ok" {
					t.Fatalf("%s join: %v", sock, e)
				}
			}
			join("ann1", "ann")
			d.Sync("ann1", "ann alone", func(l []phxjs.Present) bool { return hasUsers(l, "ann") })
			join("bob", "bob")
			d.Sync("bob", "bob's first view", func(l []phxjs.Present) bool { return hasUsers(l, "ann bob") })
			d.Sync("ann1", "bob joins", func(l []phxjs.Present) bool { return hasUsers(l, "ann bob") })
			d.Expect("onJoin bob at ann1", func(e phxjs.Event) bool { return e.Ev == "pjoin" && e.Ch == "ann1" && e.User == "bob" && e.First })

			// Ann's second tab.
			join("ann2", "ann")
			annTabs := func(n int) func([]phxjs.Present) bool {
				return func(l []phxjs.Present) bool { return hasUsers(l, "ann bob") && phxjs.Users(l)["ann"].Metas == n }
			}
			d.Sync("ann2", "ann2's view", annTabs(2))
			if mode == presence.ModeConnection {
				list := d.Sync("bob", "ann's second tab at bob", annTabs(2))
				if p := phxjs.Users(list)["ann"]; p.Names[0] != "ANN" {
					t.Fatalf("ann's metas at bob: %+v", p)
				}
			}

			// Bob types: his state changes everywhere.
			d.Push("bob", "typing", map[string]any{})
			for _, ch := range []string{"ann1", "ann2", "bob"} {
				d.Sync(ch, "bob typing at "+ch, func(l []phxjs.Present) bool {
					p := phxjs.Users(l)["bob"]
					return len(p.States) == 1 && p.States[0] == "typing"
				})
			}

			// Ann closes a tab: in user mode nobody sees ann leave.
			d.Leave("ann2")
			if mode == presence.ModeConnection {
				d.Expect("ann's tab leaves at bob", func(e phxjs.Event) bool { return e.Ev == "pleave" && e.Ch == "bob" && e.User == "ann" && e.Metas == 1 })
			}
			d.Leave("ann1")
			d.Expect("ann leaves at bob", func(e phxjs.Event) bool { return e.Ev == "pleave" && e.Ch == "bob" && e.User == "ann" && e.Metas == 0 })
			list := d.Sync("bob", "bob alone", func(l []phxjs.Present) bool { return hasUsers(l, "bob") })
			if users(list) != "bob:1" {
				t.Fatalf("bob's final view %s", users(list))
			}
			for _, e := range d.Drain(100 * time.Millisecond) {
				if e.Ev == "pleave" && e.User == "ann" && e.Ch == "bob" && mode == presence.ModeUser && e.Metas != 0 {
					t.Fatalf("user mode: a leave of one of ann's tabs reached bob: %v", e)
				}
			}
			if got := s.PresenceCount("room:p"); got != 1 {
				t.Fatalf("PresenceCount = %d", got)
			}
		})
	}
}

// TestPhoenixJSHeartbeat: with only phoenix.js's heartbeats to show it
// alive (no server pings) and an idle timeout of a few heartbeat
// intervals, a socket stays open for many intervals; one whose heartbeats
// are too rare is closed.
func TestPhoenixJSHeartbeat(t *testing.T) {
	s := wstest.Start(t, ripple.Config{PingInterval: -1, IdleTimeout: 600 * time.Millisecond}, nil)
	d := phxjs.Start(t)
	d.Socket("beat", socketURL(s.Addr), nil, map[string]any{"heartbeatIntervalMs": 150})
	d.Socket("rare", socketURL(s.Addr), nil, map[string]any{"heartbeatIntervalMs": 60000})
	for _, id := range []string{"beat", "rare"} {
		d.Expect(id+" open", func(e phxjs.Event) bool { return e.Ev == "open" && e.Socket == id })
	}
	d.Channel("room", "beat", "room:hb", nil, false)
	d.Join("room")
	for i := range 15 { // 15 intervals: 2.25 s, nearly four idle timeouts
		d.Expect(fmt.Sprintf("heartbeat %d", i), func(e phxjs.Event) bool { return e.Ev == "heartbeat" && e.Socket == "beat" })
	}
	d.Expect("the silent socket closed", func(e phxjs.Event) bool { return e.Ev == "close" && e.Socket == "rare" })
	for _, e := range d.Drain(0) {
		if e.Ev == "close" && e.Socket == "beat" {
			t.Fatalf("the heartbeating socket was closed: %v", e)
		}
	}
	if e := d.Push("room", "still_here", map[string]any{}); e.Status != "ok" {
		t.Fatalf("push after the heartbeats: %v", e)
	}
}

// startDemoAt runs a demo server on addr ("127.0.0.1:0" for a free port);
// stop shuts it down (also done when the test ends).
func startDemoAt(t *testing.T, addr string, cfg ripple.Config) (*wstest.Server, func()) {
	t.Helper()
	mux := http.NewServeMux()
	cfg.HTTPHandler = mux
	cfg.Logger = quietLogger()
	srv := ripple.New(cfg)
	mux.Handle(httpapi.Prefix, httpapi.New(srv, httpapi.Config{}))
	if err := handlers.Register(srv); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(addr); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	t.Cleanup(stop)
	return &wstest.Server{Server: srv, Addr: srv.Addr().String()}, stop
}

// TestPhoenixJSReconnect: the server restarts on the same address;
// phoenix.js reconnects, rejoins its channel and gets presence again.
func TestPhoenixJSReconnect(t *testing.T) {
	s1, stop := startDemoAt(t, "127.0.0.1:0", ripple.Config{})
	addr := s1.Addr
	d := phxjs.Start(t)
	d.Socket("s", socketURL(addr), nil, map[string]any{"reconnectMs": 100, "rejoinMs": 100})
	d.Channel("room", "s", "room:r", map[string]any{"user_id": "ann"}, true)
	if e := d.Join("room"); e.Status != "ok" {
		t.Fatalf("join: %v", e)
	}
	d.Sync("room", "ann present", func(l []phxjs.Present) bool { return hasUsers(l, "ann") })

	stop()
	d.Expect("the close", func(e phxjs.Event) bool { return e.Ev == "close" && e.Socket == "s" })
	s2, _ := startDemoAt(t, addr, ripple.Config{})
	d.Expect("the reopen", func(e phxjs.Event) bool { return e.Ev == "open" && e.Socket == "s" })
	if e := d.Expect("the rejoin", func(e phxjs.Event) bool { return e.Ev == "join" && e.Ch == "room" }); e.Status != "ok" {
		t.Fatalf("rejoin: %v", e)
	}
	d.Sync("room", "ann present again", func(l []phxjs.Present) bool { return hasUsers(l, "ann") })
	wstest.Eventually(t, "ann on the new server", func() bool { return s2.PresenceCount("room:r") == 1 })
	if e := d.Push("room", "new_msg", map[string]any{"after": "restart"}); e.Status != "ok" {
		t.Fatalf("push after the restart: %v", e)
	}
	d.Msg("room", "new_msg")
}

// TestPhoenixJSMixed: raw clients on /ws/presence/7 and phoenix.js clients
// on room:7 are one room: presence, messages both ways, and
// /api/broadcast_room.
func TestPhoenixJSMixed(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	raw := s.Dial(t, "/ws/presence/7?user_id=rita&name=Rita")
	wstest.ReadJSON(t, raw) // presence_state
	d := phxjs.Start(t)
	d.Socket("s", socketURL(s.Addr), nil, nil)
	d.Channel("room", "s", "room:7", map[string]any{"user_id": "ann", "name": "Ann"}, true)
	d.Join("room")
	d.Sync("room", "rita and ann", func(l []phxjs.Present) bool { return hasUsers(l, "ann rita") })
	if m := wstest.ReadJSON(t, raw); m["event"] != "presence_diff" || !strings.Contains(mustJSON(t, m), `"ann"`) {
		t.Fatalf("the raw client's diff: %v", m)
	}

	// Phoenix → raw.
	d.Push("room", "new_msg", map[string]any{"body": "hi rita"})
	if m := wstest.ReadJSON(t, raw); m["event"] != "new_msg" || !strings.Contains(mustJSON(t, m), `"body":"hi rita"`) {
		t.Fatalf("raw got %v", m)
	}
	// Raw → Phoenix: an object is event "message" (the presence route
	// stamps the sender's identity on it).
	wstest.Send(t, raw, `{"text":"hi ann"}`)
	if e := d.Msg("room", "message"); !strings.Contains(string(e.Payload), `"text":"hi ann"`) || !strings.Contains(string(e.Payload), `"user_id":"rita"`) {
		t.Fatalf("phoenix.js got %v", e)
	}
	wstest.ReadJSON(t, raw) // its own copy
	// The API reaches both; an envelope is its event for phoenix.js.
	for body, event := range map[string]string{
		`{"channel":"room:7","message":"{\"event\":\"notice\",\"payload\":{\"n\":1}}"}`: "notice",
		`{"channel":"room:7","message":"plain text"}`:                                   "message",
	} {
		if code, res := s.PostAPI(t, "broadcast_room", body); code != 200 || res["recipients"] != 2.0 {
			t.Fatalf("broadcast_room: %d %v", code, res)
		}
		e := d.Msg("room", event)
		if event == "message" && string(e.Payload) != `{"body":"plain text"}` {
			t.Fatalf("text via the API: %v", e)
		}
		wstest.ReadString(t, raw)
	}
	// The raw client leaves: phoenix.js sees rita go.
	_ = raw.Close()
	d.Expect("rita leaves", func(e phxjs.Event) bool { return e.Ev == "pleave" && e.User == "rita" })
}

// TestPhoenixJSLongPoll: phoenix.js on the long-poll transport, and falling
// back to it (longPollFallbackMs) when WebSockets fail, in a room with a
// WebSocket client.
func TestPhoenixJSLongPoll(t *testing.T) {
	s := wstest.Start(t, ripple.Config{LongPollWindow: time.Second}, nil)
	d := phxjs.Start(t)
	d.Socket("ws", socketURL(s.Addr), nil, nil)
	d.Socket("lp", socketURL(s.Addr), nil, map[string]any{"longpoll": true})
	if e := d.Expect("lp open", func(e phxjs.Event) bool { return e.Ev == "open" && e.Socket == "lp" }); e.Transport != "longpoll" {
		t.Fatalf("transport %q", e.Transport)
	}
	d.Channel("wsroom", "ws", "room:lp", map[string]any{"user_id": "wes"}, true)
	d.Channel("lproom", "lp", "room:lp", map[string]any{"user_id": "lou"}, true)
	d.Join("wsroom")
	if e := d.Join("lproom"); e.Status != "ok" {
		t.Fatalf("long-poll join: %v", e)
	}
	for _, ch := range []string{"wsroom", "lproom"} {
		d.Sync(ch, "both present at "+ch, func(l []phxjs.Present) bool { return hasUsers(l, "lou wes") })
	}
	d.Push("lproom", "new_msg", map[string]any{"from": "lou"})
	d.Push("wsroom", "new_msg", map[string]any{"from": "wes"})
	for _, ch := range []string{"wsroom", "lproom"} {
		for _, from := range []string{"lou", "wes"} {
			d.Expect(ch+" gets "+from, func(e phxjs.Event) bool {
				return e.Ev == "msg" && e.Ch == ch && e.Event == "new_msg" && strings.Contains(string(e.Payload), `"from":"`+from+`"`)
			})
		}
	}
	// Polls come back empty after the window and the session lives on.
	time.Sleep(2500 * time.Millisecond) // two windows: the session must outlive them while polled
	if e := d.Push("lproom", "new_msg", map[string]any{"from": "lou again"}); e.Status != "ok" {
		t.Fatalf("push after idle windows: %v", e)
	}
	d.Leave("lproom")
	d.Expect("lou leaves at wes", func(e phxjs.Event) bool { return e.Ev == "pleave" && e.Ch == "wsroom" && e.User == "lou" })
}

// TestPhoenixJSFallback: phoenix.js given longPollFallbackMs falls back to
// long polling when the WebSocket cannot connect (a Phoenix path whose
// WebSocket endpoint is refused by the Auth hook, as a proxy that drops
// upgrades would) and then works as usual.
func TestPhoenixJSFallback(t *testing.T) {
	s := wstest.Start(t, ripple.Config{Auth: func(r *ripple.Request) (string, error) {
		if strings.HasSuffix(r.Path, "/websocket") {
			return "", &ripple.Reject{Status: http.StatusForbidden, Reason: "no WebSockets here"}
		}
		return "", nil
	}}, nil)
	d := phxjs.Start(t)
	d.Socket("s", socketURL(s.Addr), nil, map[string]any{"longPollFallbackMs": 300})
	if e := d.Expect("open", func(e phxjs.Event) bool { return e.Ev == "open" && e.Socket == "s" }); e.Transport != "longpoll" {
		t.Fatalf("transport %q, want the long-poll fallback", e.Transport)
	}
	d.Channel("echo", "s", "echo:fb", nil, false)
	d.Join("echo")
	if e := d.Push("echo", "x", map[string]any{"via": "longpoll"}); string(e.Resp) != `{"via":"longpoll"}` {
		t.Fatalf("echo: %v", e)
	}
}

// TestPhoenixJSV1: phoenix.js with the V1 serializer (vsn=1.0.0).
func TestPhoenixJSV1(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	d := phxjs.Start(t)
	d.Socket("s", socketURL(s.Addr), nil, map[string]any{"vsn": "1.0.0"})
	d.Channel("echo", "s", "echo:v1", nil, false)
	if e := d.Join("echo"); e.Status != "ok" {
		t.Fatalf("join: %v", e)
	}
	if e := d.Push("echo", "x", map[string]any{"v": 1}); string(e.Resp) != `{"v":1}` {
		t.Fatalf("echo: %v", e)
	}
}

// TestPhoenixJSCluster: phoenix.js clients on two nodes of a cluster see
// each other's messages and presence.
func TestPhoenixJSCluster(t *testing.T) {
	nodes := startCluster(t, 2, ripple.Config{})
	d := phxjs.Start(t)
	for i, n := range nodes {
		sock, user := fmt.Sprintf("s%d", i), fmt.Sprintf("u%d", i)
		d.Socket(sock, socketURL(n.Addr), nil, nil)
		d.Channel(sock, sock, "room:cluster", map[string]any{"user_id": user}, true)
		if e := d.Join(sock); e.Status != "ok" {
			t.Fatalf("join on node %d: %v", i, e)
		}
	}
	for i := range nodes {
		d.Sync(fmt.Sprintf("s%d", i), "both users", func(l []phxjs.Present) bool { return hasUsers(l, "u0 u1") })
	}
	d.Push("s0", "new_msg", map[string]any{"from": "node 0"})
	if e := d.Msg("s1", "new_msg"); !strings.Contains(string(e.Payload), `"from":"node 0"`) {
		t.Fatalf("node 1 got %v", e)
	}
	d.Push("s1", "typing", map[string]any{})
	d.Sync("s0", "u1 typing on node 0", func(l []phxjs.Present) bool {
		p := phxjs.Users(l)["u1"]
		return len(p.States) == 1 && p.States[0] == "typing"
	})
	d.Leave("s1")
	d.Expect("u1 leaves at node 0", func(e phxjs.Event) bool { return e.Ev == "pleave" && e.Ch == "s0" && e.User == "u1" })
	var list []ripple.Presence
	wstest.Eventually(t, "u0 alone cluster-wide", func() bool {
		list = nodes[1].ListPresence("room:cluster")
		return len(list) == 1 && list[0].UserID == "u0"
	})
	b, _ := json.Marshal(list)
	t.Logf("cluster presence: %s", b)
}

// TestPhoenixJSRecover: phoenix.js hands a publication's position to
// channel.on callbacks as their second argument; an application that
// rejoins with {"recover": that position} after its connection dropped gets
// every publication it missed, in order, once.
func TestPhoenixJSRecover(t *testing.T) {
	for _, transport := range []string{"websocket", "longpoll"} {
		t.Run(transport, func(t *testing.T) { phoenixJSRecover(t, transport == "longpoll") })
	}
}

func phoenixJSRecover(t *testing.T, longpoll bool) {
	s, _ := startDemoAt(t, "127.0.0.1:0", ripple.Config{History: histRules})
	d := phxjs.Start(t)
	d.Socket("s", socketURL(s.Addr), nil, map[string]any{"reconnectMs": 100, "rejoinMs": 100, "longpoll": longpoll})
	d.RecoveringChannel("room", "s", "room:js", "msg")
	e := d.Join("room")
	var r joinReply
	if e.Status != "ok" || json.Unmarshal(e.Resp, &r) != nil || r.Epoch == "" || r.Recovered != nil {
		t.Fatalf("join: %v", e)
	}
	next := uint64(1) // the offset due next
	take := func(what string, upTo uint64) {
		t.Helper()
		for next <= upTo {
			m := d.Expect(what, func(e phxjs.Event) bool { return e.Ev == "on" && e.Ch == "room" })
			var body struct{ N uint64 }
			_ = json.Unmarshal(m.Payload, &body)
			if want := (ripple.Position{Epoch: r.Epoch, Offset: next}).String(); m.Ref != want || body.N != next {
				t.Fatalf("%s: ref %q n=%d, want %q n=%d", what, m.Ref, body.N, want, next)
			}
			next++
		}
	}
	publish(s, "room:js", 1, 4)
	take("live", 3)

	for _, id := range s.Clients() {
		s.CloseWith(id, 4000, "dropped")
	}
	d.Expect("the close", func(e phxjs.Event) bool { return e.Ev == "close" && e.Socket == "s" })
	publish(s, "room:js", 4, 24) // while the client is away or rejoining
	rejoin := d.Expect("the rejoin", func(e phxjs.Event) bool { return e.Ev == "join" && e.Ch == "room" })
	var rr joinReply
	if rejoin.Status != "ok" || json.Unmarshal(rejoin.Resp, &rr) != nil || rr.Recovered == nil || !*rr.Recovered || rr.Epoch != r.Epoch {
		t.Fatalf("rejoin: %v", rejoin)
	}
	take("missed", 23)
	publish(s, "room:js", 24, 26)
	take("live after the rejoin", 25)
	for _, e := range d.Drain(wstest.Quiet) {
		if e.Ev == "on" {
			t.Fatalf("a publication twice: %v", e)
		}
	}
}
