//go:build linux

package scenario

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestScanReply(t *testing.T) {
	cases := []struct {
		in        string
		ok        bool
		status    bool
		epoch     string // "-": absent
		offset    int64
		recovered int8
	}{
		{`["1","1","room:a","phx_reply",{"status":"ok","response":{"epoch":"e1","offset":12,"recovered":true}}]`, true, true, "e1", 12, 1},
		{`["1","1","room:a","phx_reply",{"response":{"recovered":false,"offset":0,"epoch":"x:y"},"status":"ok"}]`, true, true, "x:y", 0, 0},
		{`["1","1","room:a","phx_reply",{"status":"ok","response":{"epoch":"e","offset":3}}]`, true, true, "e", 3, -1},
		{`["1","1","room:a","phx_reply",{"status":"ok","response":{}}]`, true, true, "-", -1, -1},
		{`["1","1","room:a","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]`, true, false, "-", -1, -1},
		{`["1","1","room:a","phx_reply",{"status":"ok","response":{"epoch":"e","offset":-1}}]`, true, true, "e", -1, -1},
		{`["1","1","room:a","phx_reply"]`, false, false, "-", -1, -1},
		{`["1","1","room:a","phx_reply",{"status":"ok"]`, false, false, "-", -1, -1},
	}
	for _, tc := range cases {
		rep, ok := scanReply([]byte(tc.in))
		epoch := "-"
		if rep.epoch != nil {
			epoch = string(rep.epoch)
		}
		if ok != tc.ok || ok && (rep.ok != tc.status || epoch != tc.epoch || rep.offset != tc.offset || rep.recovered != tc.recovered) {
			t.Errorf("%s: ok %v %+v (epoch %q)", tc.in, ok, rep, epoch)
		}
	}
}

func TestRecoverJoin(t *testing.T) {
	got := string(appendRecoverJoin(nil, "room:rec1-2", "k3f9", 42))
	want := `["1","1","room:rec1-2","phx_join",{"recover":{"epoch":"k3f9","offset":42}}]`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	var v []any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryHistory(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{}, "room:*=1000,5m"},
		{Spec{Conns: 2000, RoomSize: 50, MsgRate: 1000}, "room:*=1000,5m"},
		{Spec{Conns: 2000, RoomSize: 50, MsgRate: 40000}, "room:*=10001,5m"}, // 1,000/s per room
		{Spec{Conns: 10, RoomSize: 100, MsgRate: 500}, "room:*=5001,5m"},     // one room
	} {
		if got := RecoveryHistory(tc.spec); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.spec, got, tc.want)
		}
	}
}

// fakeHistory is a Phoenix server of SPEC §10's wire contract, for the
// scenario's own tests: every topic keeps every publication, joins recover
// from a position, and the faults make it lose, repeat or refuse.
type fakeHistory struct {
	epoch string
	// faults
	skip, dup, refuse, noPos bool

	mu     sync.Mutex // guards topics and every write
	topics map[string]*fakeTopic

	recovers sync.Map // node → *atomic.Int64: recovering joins served
}

type fakeTopic struct {
	pubs    []json.RawMessage // publication i+1's payload
	events  []string
	members map[*websocket.Conn]bool
}

func (f *fakeHistory) node(name string) http.Handler {
	var n atomic.Int64
	f.recovers.Store(name, &n)
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer func() {
			f.mu.Lock()
			for _, t := range f.topics {
				delete(t.members, c)
			}
			f.mu.Unlock()
			c.Close()
		}()
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			var m []json.RawMessage
			if json.Unmarshal(p, &m) != nil || len(m) != 5 {
				return
			}
			var topic, event string
			_ = json.Unmarshal(m[2], &topic)
			_ = json.Unmarshal(m[3], &event)
			f.mu.Lock()
			if f.topics == nil {
				f.topics = map[string]*fakeTopic{}
			}
			t := f.topics[topic]
			if t == nil {
				t = &fakeTopic{members: map[*websocket.Conn]bool{}}
				f.topics[topic] = t
			}
			if event == "phx_join" {
				f.join(c, m, topic, t, &n)
			} else {
				t.pubs = append(t.pubs, m[4])
				t.events = append(t.events, event)
				off := len(t.pubs)
				for mc := range t.members {
					_ = mc.WriteMessage(websocket.TextMessage, f.push(topic, t, off))
				}
				_ = c.WriteMessage(websocket.TextMessage, []byte(`[`+string(m[0])+`,`+string(m[1])+`,"`+topic+`","phx_reply",{"status":"ok","response":{}}]`))
			}
			f.mu.Unlock()
		}
	})
}

func (f *fakeHistory) push(topic string, t *fakeTopic, off int) []byte {
	return []byte(`[null,"` + f.epoch + `:` + strconv.Itoa(off) + `","` + topic + `","` + t.events[off-1] + `",` + string(t.pubs[off-1]) + `]`)
}

func (f *fakeHistory) join(c *websocket.Conn, m []json.RawMessage, topic string, t *fakeTopic, served *atomic.Int64) {
	var params struct {
		Recover *struct {
			Epoch  string `json:"epoch"`
			Offset int    `json:"offset"`
		} `json:"recover"`
	}
	_ = json.Unmarshal(m[4], &params)
	top := len(t.pubs)
	var fields []string
	if !f.noPos {
		fields = append(fields, `"epoch":"`+f.epoch+`"`, `"offset":`+strconv.Itoa(top))
	}
	from := -1
	if rc := params.Recover; rc != nil {
		ok := !f.refuse && rc.Epoch == f.epoch && rc.Offset <= top
		fields = append(fields, `"recovered":`+strconv.FormatBool(ok))
		if ok {
			from = rc.Offset + 1
			served.Add(1)
		}
	}
	resp := "{" + strings.Join(fields, ",") + "}"
	_ = c.WriteMessage(websocket.TextMessage, []byte(`[`+string(m[0])+`,`+string(m[1])+`,"`+topic+`","phx_reply",{"status":"ok","response":`+resp+`}]`))
	if from > 0 {
		if f.skip && from <= top {
			from++
		}
		if f.dup && from > 1 {
			from--
		}
		for off := from; off <= top; off++ {
			_ = c.WriteMessage(websocket.TextMessage, f.push(topic, t, off))
		}
	}
	t.members[c] = true
}

// runFake runs the scenario against nodes fake nodes sharing f's topics.
func runFake(t *testing.T, f *fakeHistory, nodes int) *Result {
	t.Helper()
	var addrs []string
	for i := range nodes {
		srv := httptest.NewServer(f.node(strconv.Itoa(i)))
		t.Cleanup(srv.Close)
		addrs = append(addrs, strings.TrimPrefix(srv.URL, "http://"))
	}
	spec := Spec{Scenario: Recovery, Conns: 60, RoomSize: 6, MsgRate: 300, Churn: 60,
		Duration: Duration(time.Second), Drain: Duration(5 * time.Second)}
	if nodes > 1 {
		spec.Addrs = addrs
	}
	res, err := recoveryRun(context.Background(), Options{Spec: spec}, Target{Name: "fake", URL: "ws://" + addrs[0]}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s; failures %v", setupLabel(nodes), RecoveryLine(recoveryFigures(res, nodes)), res.Failures)
	return res
}

// The driver against a server that keeps the contract: every client gets
// every publication once, reconnects recover, on one node and on three
// (each serving recoveries).
func TestRecoveryDriverAgainstFake(t *testing.T) {
	for _, nodes := range []int{1, 3} {
		t.Run("nodes="+strconv.Itoa(nodes), func(t *testing.T) {
			f := &fakeHistory{epoch: "ep" + strconv.Itoa(nodes)}
			res := runFake(t, f, nodes)
			if !res.OK {
				t.Fatalf("failures: %v", res.Failures)
			}
			if res.Conns != 60 || res.Churned == 0 || res.Replayed == 0 || int64(res.Join.N) != res.Churned || res.Expected == 0 || res.Extra != res.Sent {
				t.Errorf("conns %d, reconnects %d, replayed %d, replay samples %d, expected %d, replies %d of %d",
					res.Conns, res.Churned, res.Replayed, res.Join.N, res.Expected, res.Extra, res.Sent)
			}
			f.recovers.Range(func(k, v any) bool {
				if v.(*atomic.Int64).Load() == 0 {
					t.Errorf("node %v served no recovery", k)
				}
				return true
			})
		})
	}
}

// Every fault of the server fails the run with the count that shows it.
func TestRecoveryDriverCatchesFaults(t *testing.T) {
	cases := []struct {
		name  string
		f     *fakeHistory
		check func(r *Result) bool
	}{
		{"loss", &fakeHistory{epoch: "e", skip: true}, func(r *Result) bool { return r.Missing > 0 && r.Gaps > 0 && r.Dup == 0 }},
		{"duplicates", &fakeHistory{epoch: "e", dup: true}, func(r *Result) bool { return r.Dup > 0 && r.Missing == 0 }},
		{"unrecovered", &fakeHistory{epoch: "e", refuse: true}, func(r *Result) bool { return r.Unrecovered > 0 && r.Unrecovered == r.Churned }},
		{"no history", &fakeHistory{epoch: "e", noPos: true}, func(r *Result) bool { return r.NoHistory == 60 && r.Delivered == 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runFake(t, tc.f, 1)
			if res.OK || !tc.check(res) {
				t.Errorf("ok %v, missing %d, gaps %d, dup %d, unrecovered %d, no history %d; failures %v",
					res.OK, res.Missing, res.Gaps, res.Dup, res.Unrecovered, res.NoHistory, res.Failures)
			}
		})
	}
}

// The probe tells a server with history from one without.
func TestProbeHistory(t *testing.T) {
	for _, tc := range []struct {
		f    *fakeHistory
		want string
	}{
		{&fakeHistory{epoch: "e"}, ""},
		{&fakeHistory{epoch: "e", noPos: true}, "has no history position"},
	} {
		srv := httptest.NewServer(tc.f.node("0"))
		addr, host, err := resolve("ws://" + strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		epoch, why, err := probeHistory(context.Background(), addr, host, probeTopic())
		srv.Close()
		if err != nil || (tc.want == "") != (why == "") || !strings.Contains(why, tc.want) || (why == "") != (epoch == "e") {
			t.Errorf("probe: %q %q, %v; want %q", epoch, why, err, tc.want)
		}
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	addr, host, _ := resolve("ws://" + strings.TrimPrefix(srv.URL, "http://"))
	if _, why, err := probeHistory(context.Background(), addr, host, probeTopic()); err != nil || !strings.Contains(why, "HTTP 404") {
		t.Errorf("probe of a 404: %q, %v", why, err)
	}

	// Nodes that share a history pass; nodes that keep one each do not.
	var shared, own []string
	f := &fakeHistory{epoch: "e"}
	for i := range 3 {
		a := httptest.NewServer(f.node(strconv.Itoa(i)))
		b := httptest.NewServer((&fakeHistory{epoch: "e" + strconv.Itoa(i)}).node("0"))
		defer a.Close()
		defer b.Close()
		shared = append(shared, strings.TrimPrefix(a.URL, "http://"))
		own = append(own, strings.TrimPrefix(b.URL, "http://"))
	}
	if why, err := probeNodes(context.Background(), shared); why != "" || err != nil {
		t.Errorf("nodes sharing a history: %q, %v", why, err)
	}
	if why, err := probeNodes(context.Background(), own); !strings.Contains(why, "keep a history each") || err != nil {
		t.Errorf("nodes keeping a history each: %q, %v", why, err)
	}
}
