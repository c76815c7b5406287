package engine

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// httpHandoff serves the connections whose first request is not a WebSocket
// upgrade. The loop duplicates the socket, hands the duplicate and the bytes
// it already read to an http.Server, and lets gnet close its own descriptor;
// from then on net/http owns the connection (keep-alive, bodies, timeouts).
type httpHandoff struct {
	// Immutable after construction.
	srv *http.Server
	ln  *chanListener
	log *slog.Logger

	done chan struct{}
}

func newHTTPHandoff(h http.Handler, log *slog.Logger) *httpHandoff {
	if h == nil {
		h = http.NotFoundHandler()
	}
	return &httpHandoff{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       60 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		ln:   newChanListener(),
		log:  log,
		done: make(chan struct{}),
	}
}

func (h *httpHandoff) start() {
	go func() {
		defer close(h.done)
		_ = h.srv.Serve(h.ln)
	}()
}

// handoff gives gc's socket to net/http with read, the bytes already read.
// Loop only; it never blocks: when net/http is saturated the connection is
// dropped.
func (h *httpHandoff) handoff(gc gnet.Conn, read []byte) {
	fd, err := gc.Dup()
	if err != nil {
		h.log.Debug("http handoff: dup", "err", err)
		return
	}
	f := os.NewFile(uintptr(fd), "http")
	nc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		h.log.Debug("http handoff: file conn", "err", err)
		return
	}
	pc := &prefixConn{Conn: nc, prefix: append([]byte(nil), read...)}
	if !h.ln.push(pc) {
		_ = nc.Close()
	}
}

// shutdown stops net/http, waiting for in-flight requests until ctx ends.
func (h *httpHandoff) shutdown(ctx context.Context) {
	_ = h.srv.Shutdown(ctx)
	_ = h.ln.Close()
}

// prefixConn replays bytes the loop already read before reading the socket.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// chanListener is a net.Listener fed by handoff.
type chanListener struct {
	ch   chan net.Conn
	once sync.Once
	stop chan struct{}
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn, 1024), stop: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case <-l.stop:
		return false
	default:
	}
	select {
	case l.ch <- c:
		return true
	default:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.stop:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.stop) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "tcp" }
func (handoffAddr) String() string  { return "ripple-handoff" }
