//go:build linux

package dialect_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/dialect"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/target/targettest"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// The peers are a module of their own (and socket.io a node script): the
// tests start them as the suite does.
func TestMain(m *testing.M) { os.Exit(targettest.Main(m)) }

// recorder is a driver that reports every event on a channel as a line
// ("open 3", "msg 3 <message>", "close 3 <error>").
type recorder struct {
	events chan string
}

func (r *recorder) OnOpen(c *loadgen.Conn) { r.events <- fmt.Sprintf("open %d", c.Tag) }
func (r *recorder) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	r.events <- fmt.Sprintf("msg %d %s", c.Tag, p)
}
func (r *recorder) OnClose(c *loadgen.Conn, err error) {
	r.events <- fmt.Sprintf("close %d %v", c.Tag, err)
}
func (r *recorder) OnTick(int64) {}

// session runs one loop speaking a dialect against a server.
type session struct {
	t      *testing.T
	l      *loadgen.Loop
	cl     dialect.Client
	events chan string
	seen   []string // events read but not yet expected
	conns  map[int]*loadgen.Conn
}

func start(t *testing.T, name, url string) *session {
	t.Helper()
	r := &recorder{events: make(chan string, 1024)}
	cl, err := dialect.New(name, r)
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadgen.New(loadgen.Config{Addr: netip.MustParseAddrPort(strings.TrimPrefix(url, "ws://"))}, cl.Handler())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	t.Cleanup(func() {
		l.Stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return &session{t: t, l: l, cl: cl, events: r.events, conns: map[int]*loadgen.Conn{}}
}

// do runs f on the loop and waits for it.
func (s *session) do(f func()) {
	ch := make(chan struct{})
	s.l.Execute(func() { f(); close(ch) })
	<-ch
}

func (s *session) dial(route string, tag int) {
	s.do(func() { s.l.Dial(s.cl.Path(route), tag) })
}

// expect waits for an event starting with prefix and returns the rest.
func (s *session) expect(prefix string) string {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for i, e := range s.seen {
			if strings.HasPrefix(e, prefix) {
				s.seen = append(s.seen[:i], s.seen[i+1:]...)
				return strings.TrimPrefix(e, prefix)
			}
		}
		select {
		case e := <-s.events:
			s.seen = append(s.seen, e)
		case <-deadline:
			s.t.Fatalf("no event %q; have %q", prefix, s.seen)
		}
	}
}

// conn returns the open connection of tag.
func (s *session) conn(tag int) *loadgen.Conn {
	var found *loadgen.Conn
	s.do(func() {
		s.l.Conns(func(c *loadgen.Conn) {
			if c.Tag == tag && c.Open() {
				found = c
			}
		})
	})
	if found == nil {
		s.t.Fatalf("connection %d is not open", tag)
	}
	return found
}

// bench checks that msg is the bench message of kind with sequence s.
func bench(t *testing.T, msg, kind string, seq int64) {
	t.Helper()
	k, m, ok := benchmsg.Scan([]byte(msg))
	if !ok || string(k) != kind || m.S != seq || m.T != 1000+seq {
		t.Fatalf("got %q, want %s message %d", msg, kind, seq)
	}
}

func TestEchoAndRooms(t *testing.T) {
	for _, name := range []string{"centrifuge", "socketio"} {
		t.Run("dialect="+name, func(t *testing.T) {
			s := start(t, target(name), targettest.Start(t, name))
			s.dial("/ws/echo", 0)
			s.dial("/ws/shootout", 1)
			s.dial("/ws/room/r1", 2)
			s.dial("/ws/room/r1", 3)
			s.dial("/ws/room/r2", 4)
			for tag := 0; tag <= 4; tag++ {
				s.expect(fmt.Sprintf("open %d", tag))
			}
			echo, pub := s.conn(1), s.conn(2)
			s.do(func() {
				s.cl.Send(echo, benchmsg.Append(nil, "echo", benchmsg.Msg{T: 1001, S: 1, P: -1, R: -1}, 0))
				s.cl.Send(pub, benchmsg.Append(nil, "room", benchmsg.Msg{T: 1002, S: 2, P: 1, R: 1}, 0))
			})
			bench(t, s.expect("msg 1 "), "echo", 1)
			bench(t, s.expect("msg 2 "), "room", 2)
			bench(t, s.expect("msg 3 "), "room", 2)
			s.do(func() {}) // let anything else arrive
			time.Sleep(100 * time.Millisecond)
			for len(s.events) > 0 {
				s.seen = append(s.seen, <-s.events)
			}
			if len(s.seen) > 0 {
				t.Fatalf("unexpected events: %q", s.seen)
			}
		})
	}
}

func target(name string) string {
	switch name {
	case "centrifuge":
		return dialect.Centrifuge
	case "socketio":
		return dialect.SocketIO
	}
	return dialect.Bench
}

// Centrifuge's join and leave pushes and presence call become Ripple's
// presence events; a connection's own join is left out.
func TestCentrifugePresence(t *testing.T) {
	s := start(t, dialect.Centrifuge, targettest.Start(t, "centrifuge"))
	s.dial("/ws/presence/p1?user_id=a&name=a", 0)
	s.expect("open 0")
	if got := s.expect("msg 0 "); got != `{"event":"presence_state","payload":{"a":{}}}` {
		t.Fatalf("state: %s", got)
	}
	s.dial("/ws/presence/p1?user_id=b&name=b", 1)
	s.expect("open 1")
	if got := s.expect("msg 1 "); !strings.HasPrefix(got, `{"event":"presence_state"`) || !strings.Contains(got, `"a":{}`) || !strings.Contains(got, `"b":{}`) {
		t.Fatalf("state of b: %s", got)
	}
	if got := s.expect("msg 0 "); got != `{"event":"presence_diff","payload":{"joins":{"b":{}},"leaves":{}}}` {
		t.Fatalf("join: %s", got)
	}
	b := s.conn(1)
	s.do(b.Close)
	s.expect("close 1 ")
	if got := s.expect("msg 0 "); got != `{"event":"presence_diff","payload":{"joins":{},"leaves":{"b":{}}}}` {
		t.Fatalf("leave: %s", got)
	}
	a := s.conn(0)
	var asked bool
	s.do(func() { asked = s.cl.ListPresence(a) })
	if !asked {
		t.Fatal("ListPresence did not ask")
	}
	if got := s.expect("msg 0 "); got != `{"event":"presence_list","payload":{"a":{}}}` {
		t.Fatalf("list: %s", got)
	}
}

// An opening the server refuses is a failed dial of stage "session".
func TestRefusedOpening(t *testing.T) {
	s := start(t, dialect.Centrifuge, targettest.Start(t, "centrifuge"))
	s.dial("/ws/room/"+strings.Repeat("x", 300), 0) // longer than centrifuge's channel limit
	if got := s.expect("close 0 "); !strings.Contains(got, "session") || !strings.Contains(got, dialect.ErrRefused.Error()) {
		t.Fatalf("close: %s", got)
	}
}
