package ripple_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/phoenix"
)

// History and recovery (SPEC section 10), with real servers and the Go
// Phoenix client; the phoenix.js test is in phoenixjs_test.go.

// histRules is the demo's rule.
var histRules = history.Rules{{Pattern: "room:*", Options: history.Options{Size: 100, TTL: 5 * time.Minute}}}

// joinReply is a history channel's join response.
type joinReply struct {
	Epoch     string `json:"epoch"`
	Offset    uint64 `json:"offset"`
	Recovered *bool  `json:"recovered"`
}

// joinAt joins topic, recovering from since when it is not nil, and
// returns the reply's position fields.
func joinAt(t *testing.T, p *wstest.Phx, topic string, since *ripple.Position) joinReply {
	t.Helper()
	var params any
	if since != nil {
		params = map[string]any{"recover": map[string]any{"epoch": since.Epoch, "offset": since.Offset}}
	}
	m := p.Join(t, topic, params)
	if m.Status() != "ok" {
		t.Fatalf("join %s: %v", topic, m)
	}
	var r joinReply
	if err := json.Unmarshal(m.Response(), &r); err != nil || r.Epoch == "" {
		t.Fatalf("join %s: no position in %s (%v)", topic, m.Response(), err)
	}
	return r
}

// pub is a publication as a member got it.
type pub struct {
	pos ripple.Position
	n   int // the payload's "n"
}

// takePubs reads the next count "msg" publications of topic, in order.
func takePubs(t *testing.T, p *wstest.Phx, topic string, count int) []pub {
	t.Helper()
	out := make([]pub, 0, count)
	for range count {
		m := p.Event(t, topic, "msg")
		pos, err := history.ParsePosition(m.Ref)
		if err != nil {
			t.Fatalf("publication without a position: %v", m)
		}
		var body struct{ N int }
		if err := json.Unmarshal(m.Payload, &body); err != nil {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		out = append(out, pub{pos, body.N})
	}
	return out
}

// publish publishes "msg" {"n": n} to topic for n in [from, to) through s.
func publish(s *wstest.Server, topic string, from, to int) {
	for n := from; n < to; n++ {
		s.BroadcastRoom(topic, ripple.ChannelMessage("msg", fmt.Appendf(nil, `{"n":%d}`, n)))
	}
}

// checkRun fails unless pubs are offsets first, first+1, … of epoch with
// payloads n, n+1, … from n0.
func checkRun(t *testing.T, what string, pubs []pub, epoch string, first uint64, n0 int) {
	t.Helper()
	for i, p := range pubs {
		if p.pos.Epoch != epoch || p.pos.Offset != first+uint64(i) || p.n != n0+i {
			t.Fatalf("%s: publication %d is %v n=%d, want %s:%d n=%d", what, i, p.pos, p.n, epoch, first+uint64(i), n0+i)
		}
	}
}

// noMore fails if topic gets another publication within wstest.Quiet.
func noMore(t *testing.T, p *wstest.Phx, topic string) {
	t.Helper()
	p.ExpectNone(t, "another publication", func(m wstest.PhxMsg) bool { return m.Topic == topic && m.Event == "msg" })
}

// recoverScenario is test (a) on any pair of servers: a member of topic on
// first disconnects; 50 publications go out through pubAt; the member
// recovers on second and gets exactly those 50, in order, then live
// publications with no gap.
func recoverScenario(t *testing.T, first, second, pubAt *wstest.Server, topic string) {
	a := wstest.DialPhx(t, wstest.PhxURL(first.Addr, phoenix.V2, ""))
	r := joinAt(t, a, topic, nil)
	publish(pubAt, topic, 0, 3)
	got := takePubs(t, a, topic, 3)
	checkRun(t, "live", got, r.Epoch, r.Offset+1, 0)
	last := got[2].pos
	_ = a.Close() // the connection drops

	publish(pubAt, topic, 3, 53)
	b := wstest.DialPhx(t, wstest.PhxURL(second.Addr, phoenix.V2, ""))
	rr := joinAt(t, b, topic, &last)
	if rr.Recovered == nil || !*rr.Recovered || rr.Epoch != last.Epoch || rr.Offset != last.Offset+50 {
		t.Fatalf("recover from %v: reply %+v, want recovered at offset %d", last, rr, last.Offset+50)
	}
	missed := takePubs(t, b, topic, 50)
	checkRun(t, "replayed", missed, last.Epoch, last.Offset+1, 3)
	publish(pubAt, topic, 53, 58)
	checkRun(t, "live after the replay", takePubs(t, b, topic, 5), last.Epoch, last.Offset+51, 53)
	noMore(t, b, topic)
}

// TestHistoryRecover is (a): recover 50 publications on a single server.
func TestHistoryRecover(t *testing.T) {
	s := wstest.Start(t, ripple.Config{History: histRules}, nil)
	recoverScenario(t, s, s, s, "room:a")
}

// TestHistoryJoin: a join without recover gets the position and only what
// comes after it; raw members of the channel get the messages envelope-free.
func TestHistoryJoin(t *testing.T) {
	s := wstest.Start(t, ripple.Config{History: histRules}, nil)
	raw := s.Dial(t, "/ws/room/j")
	p := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	if r := joinAt(t, p, "room:j", nil); r.Offset != 0 || r.Recovered != nil {
		t.Fatalf("first join of an empty channel: %+v", r)
	}
	publish(s, "room:j", 0, 2)
	checkRun(t, "first", takePubs(t, p, "room:j", 2), joinAt(t, wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, "")), "room:j", nil).Epoch, 1, 0)
	if m := wstest.ReadString(t, raw); m != `{"event":"msg","payload":{"n":0}}` {
		t.Fatalf("raw member: %s", m)
	}
	late := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	if r := joinAt(t, late, "room:j", nil); r.Offset != 2 {
		t.Fatalf("a later join: %+v, want offset 2", r)
	}
	publish(s, "room:j", 2, 3)
	if got := takePubs(t, late, "room:j", 1); got[0].pos.Offset != 3 {
		t.Fatalf("the late member's first publication: %v", got)
	}
	noMore(t, late, "room:j")

	// A malformed recover refuses the join.
	bad := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	if m := bad.Join(t, "room:j", map[string]any{"recover": map[string]any{"epoch": 1, "offset": "x"}}); m.Status() != "error" ||
		!strings.Contains(string(m.Response()), "recover") {
		t.Fatalf("malformed recover: %v", m)
	}
}

// TestHistoryEviction is (d) on a single server: a position evicted by size,
// or by the TTL, does not recover, and nothing is replayed.
func TestHistoryEviction(t *testing.T) {
	rules := history.Rules{
		{Pattern: "room:small", Options: history.Options{Size: 10, TTL: time.Minute}},
		{Pattern: "room:brief", Options: history.Options{Size: 100, TTL: 200 * time.Millisecond}},
	}
	s := wstest.Start(t, ripple.Config{History: rules}, nil)
	evictionScenario(t, s, s)
}

// evictionScenario is (d) on any pair of servers with the rules of
// TestHistoryEviction.
func evictionScenario(t *testing.T, pubAt, at *wstest.Server) {
	url := wstest.PhxURL(at.Addr, phoenix.V2, "")
	a := wstest.DialPhx(t, url)
	r := joinAt(t, a, "room:small", nil)
	publish(pubAt, "room:small", 0, 20)
	takePubs(t, a, "room:small", 20)
	from := ripple.Position{Epoch: r.Epoch, Offset: r.Offset + 5} // 6..10 are gone
	b := wstest.DialPhx(t, url)
	if rr := joinAt(t, b, "room:small", &from); rr.Recovered == nil || *rr.Recovered || rr.Offset != r.Offset+20 {
		t.Fatalf("evicted by size: %+v", rr)
	}
	noMore(t, b, "room:small")

	c := wstest.DialPhx(t, url)
	r = joinAt(t, c, "room:brief", nil)
	publish(pubAt, "room:brief", 0, 3)
	takePubs(t, c, "room:brief", 3)
	from = ripple.Position{Epoch: r.Epoch, Offset: r.Offset}
	deadline := time.Now().Add(wstest.Timeout)
	for {
		d := wstest.DialPhx(t, url)
		rr := joinAt(t, d, "room:brief", &from)
		if !*rr.Recovered {
			noMore(t, d, "room:brief")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publications past their TTL still recover: %+v", rr)
		}
		_ = d.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHistoryAPI: POST /api/history and the History helper.
func TestHistoryAPI(t *testing.T) {
	s := wstest.Start(t, ripple.Config{History: histRules}, nil)
	publish(s, "room:api", 0, 5)
	ctx := context.Background()
	res, err := s.History(ctx, "room:api", nil, 0)
	if err != nil || res.Top.Offset != 5 || len(res.Publications) != 5 {
		t.Fatalf("History: %+v, %v", res, err)
	}
	since := fmt.Sprintf(`{"epoch":%q,"offset":2}`, res.Top.Epoch)
	tests := []struct {
		body   string
		status int
		want   string // a part of the answer
	}{
		{`{"channel":"room:api"}`, 200, `"offset":5,"publications":[{"message":"{\"event\":\"msg\",\"payload\":{\"n\":0}}","offset":1}`},
		{`{"channel":"room:api","since":` + since + `,"limit":1}`, 200, `"publications":[{"message":"{\"event\":\"msg\",\"payload\":{\"n\":2}}","offset":3}],"recovered":true`},
		{`{"channel":"room:api","since":{"epoch":"other","offset":2}}`, 200, `"publications":[],"recovered":false`},
		{`{"channel":"room:none"}`, 200, `"offset":0,"publications":[]`},
		{`{"channel":"chat"}`, 404, `channel has no history`},
		{`{}`, 400, `missing field channel`},
		{`{"channel":"room:api","since":{"offset":2}}`, 400, `since must be`},
		{`{"channel":"room:api","limit":-1}`, 400, `limit must not be negative`},
	}
	for _, tc := range tests {
		status, out := s.PostAPI(t, "history", tc.body)
		b, _ := json.Marshal(out)
		if status != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %d %s, want %d with %s", tc.body, status, b, tc.status, tc.want)
		}
	}
}

// concurrentRules keep every publication of concurrentScenario.
var concurrentRules = history.Rules{{Pattern: "room:*", Options: history.Options{Size: 1000, TTL: time.Minute}}}

// TestHistoryConcurrent is (e) on a single server.
func TestHistoryConcurrent(t *testing.T) {
	s := wstest.Start(t, ripple.Config{History: concurrentRules}, nil)
	concurrentScenario(t, []*wstest.Server{s, s, s})
}

// member is one recovering client of TestClusterHistoryConcurrent.
type member struct {
	p     *wstest.Phx
	node  int
	start uint64 // the offset of its first join's reply
	last  ripple.Position
	got   []pubBody
}

// pubBody is a publication as a member got it: position and payload.
type pubBody struct {
	pos     ripple.Position
	payload string
}

// take reads publications until m has the one at offset upTo.
func (m *member) take(t *testing.T, topic string, upTo uint64) {
	t.Helper()
	for m.last.Offset < upTo {
		msg := m.p.Event(t, topic, "msg")
		pos, err := history.ParsePosition(msg.Ref)
		if err != nil {
			t.Fatalf("publication without a position: %v", msg)
		}
		m.got = append(m.got, pubBody{pos, string(msg.Payload)})
		m.last = pos
	}
}

// concurrentScenario is (e) on three servers (or one server three times),
// with a history of 1,000 (concurrentRules): a publisher on each, and
// members that drop and recover on the next server while they publish:
// every member's sequence equals the stream's.
func concurrentScenario(t *testing.T, nodes []*wstest.Server) {
	const topic, each = "room:e", 100
	url := func(i int) string { return wstest.PhxURL(nodes[i%3].Addr, phoenix.V2, "") }
	var members []*member
	for i := range 6 {
		m := &member{p: wstest.DialPhx(t, url(i)), node: i % 3}
		r := joinAt(t, m.p, topic, nil)
		m.start, m.last = r.Offset, ripple.Position{Epoch: r.Epoch, Offset: r.Offset}
		members = append(members, m)
	}
	// Writers 0-2 publish through a server's helper (off its loops), 3 and
	// 4 push as Phoenix members (on the loop of their connection, which
	// writes the publication to its own members inline).
	const writers = 5
	pushers := map[int]*wstest.Phx{}
	for w := 3; w < writers; w++ {
		pushers[w] = wstest.DialPhx(t, url(w))
		joinAt(t, pushers[w], topic, nil)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for n := range each {
				<-tick.C
				body := fmt.Appendf(nil, `{"w":%d,"n":%d}`, w, n)
				if p := pushers[w]; p != nil {
					p.Push(t, topic, "msg", json.RawMessage(body))
				} else {
					nodes[w].BroadcastRoom(topic, ripple.ChannelMessage("msg", body))
				}
			}
		}()
	}
	// Each member drops after a different share of the publications and
	// rejoins, recovering, on the next node.
	for i, m := range members {
		m.take(t, topic, m.start+uint64(10+20*i))
		_ = m.p.Close()
		m.node = (m.node + 1) % 3
		m.p = wstest.DialPhx(t, url(m.node))
		if r := joinAt(t, m.p, topic, &m.last); r.Recovered == nil || !*r.Recovered {
			t.Fatalf("member %d: rejoin from %v: %+v", i, m.last, r)
		}
	}
	wg.Wait()
	ctx := context.Background()
	// The pushes are on their way still.
	wstest.Eventually(t, "every publication in the stream", func() bool {
		res, err := nodes[0].History(ctx, topic, nil, -1)
		return err == nil && res.Top.Offset == uint64(writers*each)
	})
	all, err := nodes[0].History(ctx, topic, nil, 0)
	if err != nil || all.Top.Offset != uint64(writers*each) || len(all.Publications) != writers*each {
		t.Fatalf("the stream: top %v, %d publications, %v", all.Top, len(all.Publications), err)
	}
	// Every writer's publications are in its order in the stream.
	next := map[int]int{}
	for _, p := range all.Publications {
		var body struct {
			Event   string
			Payload struct{ W, N int }
		}
		if err := json.Unmarshal(p.Payload, &body); err != nil || body.Payload.N != next[body.Payload.W] {
			t.Fatalf("stream offset %d: %s, want writer %d's %d", p.Offset, p.Payload, body.Payload.W, next[body.Payload.W])
		}
		next[body.Payload.W]++
	}
	for i, m := range members {
		m.take(t, topic, all.Top.Offset)
		want := all.Publications[m.start:]
		if len(m.got) != len(want) || !slices.EqualFunc(m.got, want, func(g pubBody, p history.Publication) bool {
			var payload struct{ Payload json.RawMessage }
			_ = json.Unmarshal(p.Payload, &payload)
			return g.pos == ripple.Position{Epoch: all.Top.Epoch, Offset: p.Offset} && g.payload == string(payload.Payload)
		}) {
			t.Fatalf("member %d got %d publications from offset %d, the stream has %d after it: first %v", i, len(m.got), m.start, len(want), m.got[:min(3, len(m.got))])
		}
		noMore(t, m.p, topic)
	}
}
