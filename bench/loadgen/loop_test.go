//go:build linux

package loadgen_test

import (
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/target"
	"github.com/ripple-rt/ripple/bench/target/targettest"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// The gorilla peer, built from its own module (bench/peers) once per test
// binary, serves the tests.
func TestMain(m *testing.M) { os.Exit(targettest.Main(m)) }

func startPeer(t *testing.T) netip.AddrPort {
	t.Helper()
	return netip.MustParseAddrPort(strings.TrimPrefix(targettest.Start(t, "gorilla"), "ws://"))
}

// run runs l on a goroutine of its own; stop ends it and fails the test
// if Run returned an error.
func run(t *testing.T, l *loadgen.Loop) (stop func()) {
	t.Helper()
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run() }()
	return func() {
		t.Helper()
		l.Stop()
		if err := <-runErr; err != nil {
			t.Fatal(err)
		}
	}
}

// echoHandler sends one message per connection on open and closes the
// connection when its echo comes back.
type echoHandler struct {
	opened, echoed, closed int
	errs                   []error
	done                   chan struct{}
	total                  int
}

func (h *echoHandler) OnOpen(c *loadgen.Conn) {
	h.opened++
	c.WriteText([]byte(`{"n":` + strconv.Itoa(c.Tag) + `}`))
}

func (h *echoHandler) OnMessage(c *loadgen.Conn, op wsproto.Opcode, p []byte) {
	if op == wsproto.OpText && string(p) == `{"n":`+strconv.Itoa(c.Tag)+`}` {
		h.echoed++
	}
	c.Close()
}

func (h *echoHandler) OnClose(c *loadgen.Conn, err error) {
	h.closed++
	if !errors.Is(err, loadgen.ErrLocalClose) {
		h.errs = append(h.errs, err)
	}
	if h.closed == h.total {
		close(h.done)
	}
}

func (h *echoHandler) OnTick(int64) {}

func TestLoopEcho(t *testing.T) {
	addr := startPeer(t)
	const n = 200
	h := &echoHandler{done: make(chan struct{}), total: n + 1}
	l, err := loadgen.New(loadgen.Config{
		Addr:        addr,
		Sources:     []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")},
		MaxInflight: 32,
		DialRate:    5000,
	}, h)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, l)
	l.Execute(func() {
		for i := 0; i < n; i++ {
			l.Dial("/ws/echo", i)
		}
		l.Dial("/nope", -1) // 404: fails with a StatusError
	})
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("timeout: opened=%d echoed=%d closed=%d", l.Stats.Opened.Load(), h.echoed, h.closed)
	}
	stop()
	if h.opened != n || h.echoed != n {
		t.Errorf("opened=%d echoed=%d, want %d", h.opened, h.echoed, n)
	}
	var se *wsproto.StatusError
	if len(h.errs) != 1 || !errors.As(h.errs[0], &se) || se.Code != 404 {
		t.Errorf("errors = %v, want one HTTP 404", h.errs)
	}
	if got := loadgen.Reason(h.errs[0]); got != "http 404" {
		t.Errorf("Reason = %q", got)
	}
}

type nopHandler struct{}

func (nopHandler) OnOpen(*loadgen.Conn)                            {}
func (nopHandler) OnMessage(*loadgen.Conn, wsproto.Opcode, []byte) {}
func (nopHandler) OnClose(*loadgen.Conn, error)                    {}
func (nopHandler) OnTick(int64)                                    {}

// Wake fires once per arming, never before its time, and a later Wake
// replaces a pending one.
func TestLoopWake(t *testing.T) {
	l, err := loadgen.New(loadgen.Config{Addr: netip.MustParseAddrPort("127.0.0.1:9")}, nopHandler{})
	if err != nil {
		t.Fatal(err)
	}
	defer run(t, l)()
	type fired struct{ id, at, now int64 }
	ch := make(chan fired, 8)
	const step = int64(2 * time.Millisecond)
	l.Execute(func() {
		at := l.Now() + step
		_ = l.Wake(at, func() { ch <- fired{1, at, l.Now()} }) // replaced below
		_ = l.Wake(at, func() {
			ch <- fired{2, at, l.Now()}
			next := l.Now() - step // in the past: at once
			_ = l.Wake(next, func() { ch <- fired{3, next, l.Now()} })
		})
	})
	for _, want := range []int64{2, 3} {
		select {
		case f := <-ch:
			if f.id != want || f.now < f.at {
				t.Fatalf("fired %+v, want id %d not before its time", f, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("wake %d never fired", want)
		}
	}
	select {
	case f := <-ch:
		t.Fatalf("extra wake %+v", f)
	default:
	}
}

// openerHandler runs an opening of its own on /ws/echo: it sends "hello"
// after the upgrade and, when the echo comes back, makes even tags ready and
// rejects odd ones; tag -1 never answers and times out.
type openerHandler struct {
	upgraded, opened, messages int
	closeErrs                  map[int]error
	done                       chan struct{}
	total                      int
}

func (h *openerHandler) OnUpgrade(c *loadgen.Conn) {
	h.upgraded++
	if c.Open() {
		panic("open before Ready")
	}
	if c.Tag >= 0 {
		c.WriteText([]byte("hello"))
	}
}

func (h *openerHandler) OnOpen(c *loadgen.Conn) {
	h.opened++
	if !c.Open() || c.Tag%2 != 0 {
		panic("OnOpen of a connection that is not ready")
	}
	c.Close()
}

func (h *openerHandler) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	h.messages++
	switch {
	case string(p) != "hello":
	case c.Tag%2 == 0:
		c.Ready()
	default:
		c.Reject(errors.New("odd"))
	}
}

func (h *openerHandler) OnClose(c *loadgen.Conn, err error) {
	h.closeErrs[c.Tag] = err
	if len(h.closeErrs) == h.total {
		close(h.done)
	}
}

func (h *openerHandler) OnTick(int64) {}

func TestLoopOpener(t *testing.T) {
	addr := startPeer(t)
	const n = 20
	h := &openerHandler{closeErrs: map[int]error{}, done: make(chan struct{}), total: n + 1}
	l, err := loadgen.New(loadgen.Config{Addr: addr, HandshakeTimeout: 300 * time.Millisecond}, h)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, l)
	l.Execute(func() {
		for i := 0; i < n; i++ {
			l.Dial("/ws/echo", i)
		}
		l.Dial("/ws/echo", -1)
	})
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("timeout: upgraded=%d opened=%d closed=%d", h.upgraded, h.opened, len(h.closeErrs))
	}
	stop()
	if h.upgraded != n+1 || h.opened != n/2 || h.messages != n {
		t.Errorf("upgraded=%d opened=%d messages=%d, want %d, %d, %d", h.upgraded, h.opened, h.messages, n+1, n/2, n)
	}
	if got := l.Stats.Opened.Load(); got != n/2 {
		t.Errorf("Stats.Opened = %d, want %d", got, n/2)
	}
	if got := l.Stats.Failed.Load(); got != n/2+1 {
		t.Errorf("Stats.Failed = %d, want %d", got, n/2+1)
	}
	for tag, err := range h.closeErrs {
		var de *loadgen.DialError
		switch {
		case tag >= 0 && tag%2 == 0:
			if !errors.Is(err, loadgen.ErrLocalClose) {
				t.Errorf("tag %d: %v, want a local close", tag, err)
			}
		case !errors.As(err, &de) || de.Stage != "session":
			t.Errorf("tag %d: %v, want a session DialError", tag, err)
		case tag == -1 && !errors.Is(err, loadgen.ErrTimeout):
			t.Errorf("tag -1: %v, want a timeout", err)
		}
	}
}

// DialAddr reaches another server than the loop's own: with the loop's
// address on a port nobody listens on, its dials fail and DialAddr's open.
func TestLoopDialAddr(t *testing.T) {
	peer := startPeer(t)
	port, err := target.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	h := &echoHandler{done: make(chan struct{}), total: 4}
	l, err := loadgen.New(loadgen.Config{Addr: dead}, h)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, l)
	l.Execute(func() {
		l.DialAddr(peer, "/ws/echo", 1)
		l.DialAddr(peer, "/ws/echo", 2)
		l.Dial("/ws/echo", 3)                                          // the loop's address: refused
		l.DialAddr(netip.MustParseAddrPort("[::1]:80"), "/ws/echo", 4) // not IPv4
	})
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("timeout: opened=%d echoed=%d closed=%d", l.Stats.Opened.Load(), h.echoed, h.closed)
	}
	stop()
	if h.opened != 2 || h.echoed != 2 {
		t.Errorf("opened=%d echoed=%d, want 2", h.opened, h.echoed)
	}
	var de *loadgen.DialError
	if len(h.errs) != 2 || !errors.As(h.errs[0], &de) || de.Stage != "connect" || !errors.As(h.errs[1], &de) || de.Stage != "connect" {
		t.Errorf("errors = %v, want two failed connects", h.errs)
	}
}

// pingPongHandler sends a message on open and another on each echo, until
// rounds echoes came back.
type pingPongHandler struct {
	rounds, echoed int
	done           chan struct{}
}

func (h *pingPongHandler) OnOpen(c *loadgen.Conn) { c.WriteText([]byte(`{"n":0}`)) }

func (h *pingPongHandler) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	if string(p) != `{"n":`+strconv.Itoa(h.echoed)+`}` {
		return
	}
	if h.echoed++; h.echoed == h.rounds {
		close(h.done)
		return
	}
	c.WriteText([]byte(`{"n":` + strconv.Itoa(h.echoed) + `}`))
}

func (h *pingPongHandler) OnClose(*loadgen.Conn, error) {}
func (h *pingPongHandler) OnTick(int64)                 {}

// TestLoopCoalesce: with Coalesce, a poll that found work is followed by
// the next one no sooner than Coalesce later, so each echo of a ping-pong
// waits for it; every message still arrives.
func TestLoopCoalesce(t *testing.T) {
	addr := startPeer(t)
	for _, coalesce := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(coalesce.String(), func(t *testing.T) {
			const rounds = 10
			h := &pingPongHandler{rounds: rounds, done: make(chan struct{})}
			l, err := loadgen.New(loadgen.Config{Addr: addr, Coalesce: coalesce}, h)
			if err != nil {
				t.Fatal(err)
			}
			stop := run(t, l)
			l.Execute(func() { l.Dial("/ws/echo", 0) })
			for l.Stats.Opened.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			opened := time.Now()
			select {
			case <-h.done:
			case <-time.After(20 * time.Second):
				t.Fatalf("timeout: %d of %d echoes", h.echoed, rounds)
			}
			took := time.Since(opened)
			stop()
			// Each echo after the first poll that found work waits out the rest of Coalesce.
			if least := (rounds - 2) * coalesce; took < least {
				t.Errorf("%d round trips took %v, want at least %v with Coalesce %v", rounds, took, least, coalesce)
			}
		})
	}
}
