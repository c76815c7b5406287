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
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run() }()
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
	l.Stop()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
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
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run() }()
	defer func() {
		l.Stop()
		if err := <-runErr; err != nil {
			t.Error(err)
		}
	}()
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
