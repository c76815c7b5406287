package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/panjf2000/gnet/v2"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/phoenix"
)

// The long-poll transport (phoenix.LongPoll speaks its HTTP side).
//
// A session is a connection of an event loop like any other: it has a conn
// (in the registry, in its channels' memberships, with presences, timers,
// the slow-consumer cap), its dialect marked dialectLongPoll, and as its
// gnet.Conn an lpConn, which keeps the frames the loop writes as messages
// for the next poll instead of sending them. Nothing runs for an idle
// session: a poll request's own goroutine (net/http's) waits on a channel
// that the loop fills when it writes to the session, or until the window
// ends; the POSTed messages are posted to the loop, which hands them to
// phxIn as if they had come in WebSocket frames. A session closes as a
// connection does (its close frame ends it; OnClose runs as for any
// connection), and when nobody polled it for two windows.

// longPoll is the engine's phoenix.Sessions.
type longPoll struct {
	// Immutable after construction.
	e    *Engine
	http *phoenix.LongPoll
	path string

	next atomic.Uint32 // round robin over the loops

	mu       sync.Mutex
	sessions map[string]*lpConn // Guarded by mu: by token, until forgotten
}

var _ phoenix.Sessions = (*longPoll)(nil)

// errNoLoop: no loop can take a session (the server is starting or stopping).
var errNoLoop = errors.New("engine: no event loop for a long-poll session")

func newLongPoll(e *Engine) *longPoll {
	lp := &longPoll{e: e, path: e.cfg.PhoenixPath + "/longpoll", sessions: make(map[string]*lpConn)}
	lp.http = &phoenix.LongPoll{
		Sessions: lp,
		Window:   e.cfg.LongPollWindow,
		MaxBody:  int64(max(4*e.cfg.MaxMessageSize, 1<<20)),
	}
	return lp
}

// httpHandler is h (404 when nil) with the long-poll transport in front of
// it, once a channel is registered.
func (e *Engine) httpHandler(h http.Handler) http.Handler {
	if h == nil {
		h = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lp := e.lp; lp != nil && r.URL.Path == lp.path {
			lp.http.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Open starts a session: the upgrade's checks (origin, version, the Auth
// hook), then a connection on one of the loops, opened there.
func (lp *longPoll) Open(r *http.Request) (string, error) {
	e := lp.e
	if e.draining.Load() {
		return "", ErrShuttingDown
	}
	if !e.originAllowed(r.Header.Get("Origin")) {
		return "", phoenix.ErrForbidden
	}
	vsn, err := phoenix.ParseVsn(r.URL.Query().Get("vsn"))
	if err != nil {
		return "", phoenix.ErrForbidden
	}
	req := codec.Request{Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone()}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		req.Remote = net.TCPAddrFromAddrPort(ap)
	}
	user := ""
	if e.cfg.Auth != nil {
		if user, err = e.cfg.Auth(&req); err != nil {
			return "", phoenix.ErrForbidden
		}
	}
	sh := lp.pickShard()
	if sh == nil {
		return "", errNoLoop
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	l := &lpConn{lp: lp, sh: sh, token: base64.RawURLEncoding.EncodeToString(key[:]), remote: req.Remote}
	c := &conn{gc: l, sh: sh, rt: e.phxBindings[phxDialect(vsn)|dialectLongPoll], req: req,
		lastRead: time.Now().UnixNano()}
	if user != "" {
		c.extra().user = user
	}
	l.ctx = c
	opened := make(chan bool, 1)
	if !sh.post(func() {
		if e.draining.Load() {
			opened <- false
			return
		}
		sh.add(c)
		e.handshakes.Add(1) // open counts the handshake done
		e.open(c)
		opened <- c.state == stateOpen
	}) {
		return "", errNoLoop
	}
	if !<-opened {
		return "", ErrShuttingDown
	}
	lp.mu.Lock()
	lp.sessions[l.token] = l
	lp.mu.Unlock()
	e.stats.LongPolls.Add(1)
	return l.token, nil
}

// pickShard returns the next loop in turn that serves connections.
func (lp *longPoll) pickShard() *shard {
	shards := lp.e.shards
	start := int(lp.next.Add(1))
	for i := range shards {
		if sh := shards[(start+i)%len(shards)]; sh.loop.Load() != nil {
			return sh
		}
	}
	return nil
}

func (lp *longPoll) get(token string) *lpConn {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.sessions[token]
}

// forget drops a closed session's token.
func (lp *longPoll) forget(l *lpConn) {
	lp.mu.Lock()
	if lp.sessions[l.token] == l {
		delete(lp.sessions, l.token)
	}
	lp.mu.Unlock()
}

// pollResult is what a waiting poll gets: messages, or the news that the
// session is gone.
type pollResult struct {
	msgs [][]byte
	gone bool
}

// Poll waits for the session's messages until ctx ends. The waiting is
// this goroutine's alone: the session only keeps the channel to fill.
func (lp *longPoll) Poll(ctx context.Context, token string) ([][]byte, error) {
	l := lp.get(token)
	if l == nil {
		return nil, phoenix.ErrGone
	}
	ch := make(chan pollResult, 1)
	if !l.sh.post(func() { l.wait(ch) }) {
		return nil, phoenix.ErrGone
	}
	select {
	case r := <-ch:
		return r.result()
	case <-ctx.Done():
	}
	// The window is over: withdraw, unless the loop answered meanwhile.
	done := make(chan struct{})
	if l.sh.post(func() {
		if l.waiter == ch {
			l.waiter = nil
		}
		close(done)
	}) {
		select {
		case <-done:
		case <-time.After(time.Second): // the loop is stopping
		}
	}
	select {
	case r := <-ch:
		return r.result()
	default:
		return nil, nil
	}
}

func (r pollResult) result() ([][]byte, error) {
	if r.gone {
		return nil, phoenix.ErrGone
	}
	return r.msgs, nil
}

// Publish hands the client's messages to the session's loop, in order (the
// loop's queue is FIFO, and phoenix.js sends its next batch only once this
// one is answered).
func (lp *longPoll) Publish(token string, frames []phoenix.Frame) error {
	l := lp.get(token)
	if l == nil {
		return phoenix.ErrGone
	}
	e := lp.e
	if !l.sh.post(func() {
		c := l.conn()
		if c == nil {
			return
		}
		c.lastRead = time.Now().UnixNano()
		for _, f := range frames {
			switch {
			case c.state != stateOpen:
				return
			case len(f.Data) > e.cfg.MaxMessageSize:
				c.close(codec.CloseTooBig, "message too big", false)
				return
			case !f.Binary && !utf8.Valid(f.Data):
				c.close(codec.CloseInvalidPayload, "invalid UTF-8", false)
				return
			}
			e.stats.MessagesIn.Add(1)
			e.stats.BytesIn.Add(int64(len(f.Data)))
			e.phxIn(c, f.Data, f.Binary)
		}
	}) {
		return phoenix.ErrGone
	}
	return nil
}

// sweepLongPoll closes a session nobody polled for two windows (a poll
// waiting now means the client is there). Loop only.
func (sh *shard) sweepLongPoll(c *conn, silent int64) {
	l, _ := c.gc.(*lpConn)
	if l == nil || l.waiter != nil {
		return
	}
	if silent > 2*int64(sh.e.cfg.LongPollWindow) {
		c.close(codec.CloseGoingAway, "long-poll session expired", false)
	}
}

// lpConn is a long-poll session as the engine's gnet.Conn: what the loop
// writes becomes the session's queued messages. The embedded gnet.Conn is
// nil: the engine calls none of the methods lpConn does not define on a
// session (it never reads one; see readFrames).
type lpConn struct {
	gnet.Conn

	// Immutable after construction.
	lp     *longPoll
	sh     *shard
	token  string
	remote net.Addr

	// Owned by the event loop; no locks.
	ctx    any
	outbox [][]byte          // messages for the next poll
	queued int               // their bytes (OutboundBuffered)
	waiter chan<- pollResult // the poll waiting now, if any
	closed bool
}

// conn is the session's connection; nil once closed. Loop only.
func (l *lpConn) conn() *conn {
	c, _ := l.ctx.(*conn)
	return c
}

// wait is a poll's arrival: it gets the queued messages at once, or waits
// for the next write. A poll that replaces a waiting one answers that one
// empty. Loop only.
func (l *lpConn) wait(ch chan<- pollResult) {
	if c := l.conn(); c != nil {
		c.lastRead = time.Now().UnixNano() // the engine clock is too coarse for short windows
	}
	if old := l.waiter; old != nil {
		old <- pollResult{}
	}
	l.waiter = ch
	l.deliver()
}

// deliver hands the queued messages, or the session's end, to the waiting
// poll. Loop only.
func (l *lpConn) deliver() {
	if l.waiter == nil || (len(l.outbox) == 0 && !l.closed) {
		return
	}
	l.waiter <- pollResult{msgs: l.outbox, gone: l.closed && len(l.outbox) == 0}
	l.waiter, l.outbox, l.queued = nil, nil, 0
}

// Write takes whole frames (the engine writes nothing else): data frames
// join the outbox, a close frame ends the session, control frames are
// dropped.
func (l *lpConn) Write(b []byte) (int, error) {
	if l.closed {
		return 0, net.ErrClosed
	}
	for p := b; len(p) > 0; {
		h, n, err := codec.ParseHeader(p)
		end := n + int(h.Length)
		if err != nil || n == 0 || end > len(p) {
			break
		}
		switch h.Op {
		case codec.OpText, codec.OpBinary:
			l.outbox = append(l.outbox, bytes.Clone(p[n:end]))
			l.queued += end - n
		case codec.OpClose:
			l.end()
		}
		p = p[end:]
	}
	l.deliver()
	return len(b), nil
}

// end closes the session: the poll waiting now gets what is queued (the
// next one learns it is gone), OnClose runs as for a TCP connection, and the
// token is forgotten two windows later. Loop only.
func (l *lpConn) end() {
	if l.closed {
		return
	}
	l.closed = true
	l.deliver()
	e := l.lp.e
	l.sh.post(func() { e.OnClose(l, nil) })
	time.AfterFunc(2*e.cfg.LongPollWindow, func() { l.lp.forget(l) })
}

// The rest of gnet.Conn that the engine uses.

func (l *lpConn) Close() error                    { l.end(); return nil }
func (l *lpConn) Context() any                    { return l.ctx }
func (l *lpConn) SetContext(ctx any)              { l.ctx = ctx }
func (l *lpConn) RemoteAddr() net.Addr            { return l.remote }
func (l *lpConn) LocalAddr() net.Addr             { return nil }
func (l *lpConn) OutboundBuffered() int           { return l.queued }
func (l *lpConn) InboundBuffered() int            { return 0 }
func (l *lpConn) Peek(int) ([]byte, error)        { return nil, nil }
func (l *lpConn) Discard(n int) (int, error)      { return 0, nil }
func (l *lpConn) Dup() (int, error)               { return -1, errors.ErrUnsupported }
func (l *lpConn) EventLoop() gnet.EventLoop       { return *l.sh.loop.Load() }
func (l *lpConn) Writev(bs [][]byte) (int, error) { return l.Write(bytes.Join(bs, nil)) }
