package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/phoenix"
	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/route"
)

// Engine is a WebSocket server on gnet event loops. Create it with New,
// register routes with Handle, then Start it.
type Engine struct {
	gnet.BuiltinEventEngine

	// Immutable after Start.
	cfg      Config
	log      *slog.Logger
	routes   route.Table[*binding] // each route's binding without params
	shards   []*shard
	rooms    *roomIndex
	conns    *registry
	memory   *presence.Memory // the single server's presence backend
	pool     *workerPool
	http     *httpHandoff
	broker   Broker           // the other servers: localBroker unless UseCluster
	presence presence.Backend // e.memory unless UseCluster
	hist     history.Backend  // e.histMem unless UseHistory; nil without history rules
	histMem  *history.Memory  // the single server's history; nil without rules or after UseHistory

	// Written by HandleChannel before Start; read-only afterwards.
	channels route.Topics[*binding] // each channel pattern's binding without params
	phxRoute *Route                 // the Phoenix socket's route; nil without channels
	// phxBindings are the Phoenix socket's bindings by dialect, one for
	// each protocol version, over WebSocket or long poll.
	phxBindings map[dialect]*binding
	lp          *longPoll // the long-poll sessions; nil without channels or with DisableLongPoll

	stats Stats
	now   atomic.Int64 // engine clock, unix nanoseconds, advanced by OnTick

	histSwept int64 // Owned by OnTick: when e.histMem was last swept

	// Guarded by loopMu: which shard serves which gnet loop.
	loopMu sync.Mutex
	loops  map[gnet.EventLoop]*shard

	started     atomic.Bool // Start was called
	draining    atomic.Bool
	handshakes  atomic.Int64 // connections not yet upgraded, handed off or closed
	disconnects atomic.Int64 // disconnect events not yet handled

	booted  chan struct{}
	stopped chan struct{}
	runErr  error // set before stopped is closed
	eng     gnet.Engine
	addr    net.Addr
}

// New returns an Engine with cfg (zero fields take their defaults).
func New(cfg Config) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{
		cfg:     cfg,
		log:     cfg.Logger,
		rooms:   newRoomIndex(),
		conns:   newRegistry(),
		loops:   make(map[gnet.EventLoop]*shard),
		booted:  make(chan struct{}),
		stopped: make(chan struct{}),
	}
	pc := presence.Config{Mode: cfg.PresenceMode}
	if cfg.PresenceInterval > 0 {
		pc.Interval = cfg.PresenceInterval
	}
	e.memory = presence.NewMemory(pc, e.Inbound())
	e.presence, e.broker = e.memory, localBroker{e}
	if len(cfg.History) > 0 {
		e.histMem = history.NewMemory(history.MemoryConfig{}, e.Inbound())
		e.hist = e.histMem
	}
	e.shards = make([]*shard, cfg.Loops)
	for i := range e.shards {
		e.shards[i] = newShard(e, i)
	}
	e.pool = newWorkerPool(cfg.Workers)
	e.http = newHTTPHandoff(e.httpHandler(cfg.HTTPHandler), e.log)
	e.now.Store(time.Now().UnixNano())
	return e
}

// Handle registers a route. It must be called before Start.
func (e *Engine) Handle(r Route) error {
	if r.Handler == nil {
		return fmt.Errorf("engine: route %s: nil handler", r.Pattern)
	}
	r.MaxMessagesPerSecond = limitOf(r.MaxMessagesPerSecond, e.cfg.MaxMessagesPerSecond)
	r.MaxBytesPerSecond = limitOf(r.MaxBytesPerSecond, e.cfg.MaxBytesPerSecond)
	return e.routes.Add(r.Pattern, &binding{route: &r})
}

// Config returns the configuration in force, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// Presence returns the single server's presence registry; in cluster mode
// presences live in the cluster's backend and it stays empty.
func (e *Engine) Presence() *presence.Registry { return e.memory.Registry() }

// Start listens on addr ("host:port"; port 0 picks a free one) and serves in
// the background until Shutdown. It returns once the server accepts
// connections.
//
// Every loop accepts its own connections (SO_REUSEPORT, one listening socket
// per loop; the kernel spreads connections over them). gnet's other mode, a
// separate accepting goroutine, is a second poller that blocks in epoll_wait
// holding a P: on a server with as many Ps as loops, a loop that yields in
// runtime.Gosched then waits for sysmon to take that P back, milliseconds
// during which none of its sockets is read.
func (e *Engine) Start(addr string) error {
	if e.draining.Load() {
		return ErrShuttingDown
	}
	if !e.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	addr, release, err := reservePort(addr, e.cfg.Loops)
	if err != nil {
		return err
	}
	defer release()
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(e.cfg.Loops),
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReuseAddr(true),
		gnet.WithReusePort(true),
		gnet.WithLogger(gnetLogger{e.log}),
	}
	if e.cfg.SendBuffer > 0 {
		// Set on the listening sockets; accepted connections inherit it.
		opts = append(opts, gnet.WithSocketSendBuffer(e.cfg.SendBuffer))
	}
	go func() {
		err := gnet.Run(e, "tcp://"+addr, opts...)
		e.runErr = err
		close(e.stopped)
	}()
	select {
	case <-e.booted:
		e.http.start()
		e.pool.start()
		return nil
	case <-e.stopped:
		if e.runErr == nil {
			e.runErr = errors.New("engine: stopped before boot")
		}
		return e.runErr
	}
}

// reservePort turns port 0 into a free port for every loop's listener: each
// loop binds addr itself, and port 0 would give each its own port. It holds
// the port with a listener of the same SO_REUSEPORT group until release,
// once gnet's listeners are bound; no client knows the port before that.
func reservePort(addr string, loops int) (string, func(), error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" || loops <= 1 {
		return addr, func() {}, nil // gnet reports a malformed addr
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("engine: reserve a port: %w", err)
	}
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port), func() { _ = ln.Close() }, nil
}

// Addr is the address the server listens on, once started.
func (e *Engine) Addr() net.Addr { return e.addr }

// Done is closed when the server has stopped.
func (e *Engine) Done() <-chan struct{} { return e.stopped }

// OnBoot records the engine and the address it listens on.
func (e *Engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			e.addr = sockaddrToTCP(sa)
		}
		_ = unix.Close(fd)
	}
	close(e.booted)
	return gnet.None
}

func sockaddrToTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// clock is the engine's coarse time in unix nanoseconds; it advances every
// tick, which is all the timers need.
func (e *Engine) clock() int64 { return e.now.Load() }

// shardOf returns the shard serving the loop of gc, binding one on first use.
func (e *Engine) shardOf(gc gnet.Conn) *shard {
	lp := gc.EventLoop()
	e.loopMu.Lock()
	defer e.loopMu.Unlock()
	if sh := e.loops[lp]; sh != nil {
		return sh
	}
	sh := e.shards[len(e.loops)]
	sh.gid.Store(goid()) // OnOpen runs on the loop's goroutine
	sh.loop.Store(&lp)
	e.loops[lp] = sh
	sh.enrollWaker(lp)
	return sh
}

// OnOpen accepts a TCP connection; it stays in the handshake state until its
// request head is complete.
func (e *Engine) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if w, ok := gc.Context().(*waker); ok {
		w.onOpen()
		return nil, gnet.None
	}
	e.stats.Accepted.Add(1)
	if e.draining.Load() {
		return nil, gnet.Close
	}
	sh := e.shardOf(gc)
	now := time.Now().UnixNano() // deadlines count from the real accept time, not the last tick
	c := &conn{gc: gc, sh: sh, lastRead: now, timer: now + int64(e.cfg.HandshakeTimeout)}
	c.dec.MaxMessageSize = int32(e.cfg.MaxMessageSize)
	sh.add(c)
	e.handshakes.Add(1)
	gc.SetContext(c)
	return nil, gnet.None
}

// OnTraffic reads what arrived: the request head before the upgrade, frames
// after it. What the handlers queued is written before it returns, in the
// same poll round, unless the loop is behind (see shard.flushTurn).
func (e *Engine) OnTraffic(gc gnet.Conn) (action gnet.Action) {
	c, _ := gc.Context().(*conn)
	if c == nil {
		if w, ok := gc.Context().(*waker); ok {
			w.onTraffic(gc)
			return gnet.None
		}
		return gnet.Close
	}
	sh := c.sh
	// Bad input must never take the server down: a bug reached by one
	// connection's bytes costs that connection only.
	defer func() {
		if r := recover(); r != nil {
			e.stats.Panics.Add(1)
			e.log.Error("panic reading a connection", "conn", c.id(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if c.state == stateHandshake {
				e.handshakes.Add(-1)
			}
			c.state = stateClosed
			action = gnet.Close
		}
		sh.endTraffic(c)
	}()
	switch c.state {
	case stateHandshake:
		return e.readHandshake(c)
	case stateOpen, stateClosing:
		return e.readFrames(c)
	}
	// Closed or handed off: drop whatever still arrives.
	_, _ = gc.Discard(gc.InboundBuffered())
	return gnet.None
}

// readHandshake waits for a whole request head, then upgrades it or hands the
// connection to net/http.
func (e *Engine) readHandshake(c *conn) gnet.Action {
	gc := c.gc
	buf, _ := gc.Peek(-1)
	end := codec.HeadEnd(buf)
	if end == 0 && len(buf) <= e.cfg.MaxHandshakeSize {
		return gnet.None // wait for more
	}
	if end == 0 || end > e.cfg.MaxHandshakeSize {
		e.stats.Rejected.Add(1)
		e.cfg.Observer.Rejected(http.StatusRequestHeaderFieldsTooLarge)
		return e.refuse(c, "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	}
	head := buf[:end]
	if !codec.IsUpgrade(head) {
		e.handshakes.Add(-1)
		e.stats.HTTPRequests.Add(1)
		c.state = stateHTTP
		e.http.handoff(gc, buf)
		_, _ = gc.Discard(len(buf))
		return gnet.Close // gnet closes its descriptor; net/http has a duplicate
	}

	sh := c.sh
	out := &sh.hsOut
	out.Reset()
	sh.upgrading = c
	_, acc, err := sh.upgrader.Upgrade(head, out, codec.UpgradeConfig{
		Check:   sh.check,
		Deflate: !e.cfg.DisableCompression,
		Request: &c.req,
	})
	sh.upgrading = nil
	if out.Cap() > maxKeptResponse {
		defer func() { sh.hsOut = bytes.Buffer{} }()
	}
	_, _ = gc.Discard(end)
	if err != nil {
		e.stats.Rejected.Add(1)
		e.cfg.Observer.Rejected(rejectStatus(err))
		return e.refuse(c, out.String())
	}
	c.dec.Deflate, c.dec.DeflateWindow = acc.Deflate, acc.DeflateWindow
	if _, err := gc.Write(out.Bytes()); err != nil {
		return gnet.None // closed by gnet
	}
	e.open(c)
	if c.state == stateOpen && gc.InboundBuffered() > 0 {
		return e.readFrames(c)
	}
	return gnet.None
}

// maxKeptResponse bounds the handshake response buffer a loop keeps for the
// next one.
const maxKeptResponse = 4 << 10

// rejectStatus is the HTTP status codec.Upgrade answered a refused request with.
func rejectStatus(err error) int {
	var rej *codec.Reject
	if errors.As(err, &rej) {
		return rej.Status
	}
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		return sc.StatusCode()
	}
	return http.StatusBadRequest
}

// refuse writes an HTTP response to a connection that will not be upgraded
// and closes it once the response is flushed.
func (e *Engine) refuse(c *conn, resp string) gnet.Action {
	e.handshakes.Add(-1)
	c.state = stateClosed
	_, _ = c.gc.Discard(c.gc.InboundBuffered())
	_, _ = c.gc.Write([]byte(resp))
	return gnet.Close
}

// check routes an upgrade request and applies the origin rule and the auth
// hook. It runs inside codec.Upgrade, on the loop.
func (e *Engine) check(c *conn, r *codec.Request) (http.Header, error) {
	rt, ok := c.sh.route(r)
	if !ok {
		return nil, &codec.Reject{Status: http.StatusNotFound, Reason: "no WebSocket route for " + r.Path}
	}
	if !e.originAllowed(r.Header.Get("Origin")) {
		return nil, &codec.Reject{Status: http.StatusForbidden, Reason: "origin not allowed"}
	}
	if e.draining.Load() {
		return nil, &codec.Reject{Status: http.StatusServiceUnavailable, Reason: "server shutting down"}
	}
	if e.cfg.Auth != nil || e.cfg.Authenticate != nil {
		creds, err := e.authenticate(r)
		if err != nil {
			var rej *codec.Reject
			if errors.As(err, &rej) {
				return nil, rej
			}
			return nil, &codec.Reject{Status: http.StatusUnauthorized, Reason: err.Error(),
				Header: http.Header{"Www-Authenticate": {`Bearer realm="ripple"`}}}
		}
		if creds.User != "" {
			c.extra().user = creds.User
		}
		if !creds.Expires.IsZero() {
			c.lim = &limits{expires: creds.Expires.UnixNano()}
		}
	}
	if rt.route.phoenix {
		vsn, err := phoenix.ParseVsn(r.Query().Get("vsn"))
		if err != nil {
			return nil, &codec.Reject{Status: http.StatusBadRequest, Reason: err.Error()}
		}
		rt = e.phxBindings[phxDialect(vsn)]
	}
	c.rt = rt
	c.sh.intern(r, rt.route.Pattern)
	return nil, nil
}

func (e *Engine) originAllowed(origin string) bool {
	if len(e.cfg.AllowedOrigins) == 0 || origin == "" {
		return true
	}
	for _, o := range e.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// open finishes the upgrade: the connection gets its id, enters the registry
// and its handler sees the connect event.
func (e *Engine) open(c *conn) {
	e.handshakes.Add(-1)
	e.stats.Upgraded.Add(1)
	c.req.Remote = c.gc.RemoteAddr()
	if e.conns.custom {
		c.extra().id = e.broker.NewConnID() // c.x is set for good: see connExtra
	}
	c.uid = newConnID()
	if c.lim == nil && c.rt.route.limited() {
		c.lim = &limits{}
	}
	c.state = stateOpen
	e.conns.add(c) // may change c.uid
	c.timer = e.clock() - c.pingPhase(int64(e.cfg.PingInterval))
	c.sh.recheck(c)
	if c.dialect() != 0 {
		c.sh.phxOpen(c)
	}
	e.broker.Connected(c.sh.idOf(c))
	e.dispatch(c, Connect, nil, false)
}

// readFrames decodes every whole frame buffered for c. Payloads point into
// gnet's buffer and stay valid until the Discard at the end, after every
// handler has returned.
func (e *Engine) readFrames(c *conn) gnet.Action {
	gc := c.gc
	buf, _ := gc.Peek(-1)
	off := 0
	var now int64 // read once, for the rate limit
	defer func() {
		// Discard(0) would drop everything; a closed conn's buffers are
		// gnet's again.
		if off > 0 && c.state != stateClosed {
			_, _ = gc.Discard(off)
		}
	}()
	for off < len(buf) && (c.state == stateOpen || c.state == stateClosing) {
		m, n, err := c.dec.Decode(buf[off:])
		off += n
		if n > 0 {
			c.lastRead = e.clock() // whole frames, not trickled bytes, keep a connection alive
		}
		if err != nil {
			off = len(buf)
			code, reason := codec.AsClose(err)
			c.close(code, reason, false)
			return gnet.None
		}
		switch m.Kind {
		case codec.KindNone:
			return gnet.None // a partial frame waits in gnet's buffer
		case codec.KindText, codec.KindBinary:
			if c.state != stateOpen || !e.rateLimit(c, len(m.Payload), &now) {
				continue // closing: the client's data is dropped
			}
			payload := m.Payload
			if m.Compressed {
				if payload, err = e.inflate(c, m); err != nil {
					off = len(buf)
					code, reason := codec.AsClose(err)
					c.close(code, reason, false)
					return gnet.None
				}
			}
			e.stats.MessagesIn.Add(1)
			e.stats.BytesIn.Add(int64(len(m.Payload)))
			if c.dialect() != 0 {
				e.phxIn(c, payload, m.Kind == codec.KindBinary)
				continue
			}
			if c.rt.route.Refresh && m.Kind == codec.KindText && e.refresh(c, payload) {
				continue
			}
			e.dispatch(c, Message, payload, m.Kind == codec.KindBinary)
		case codec.KindPing:
			if c.state == stateOpen {
				c.write(codec.Compile(codec.OpPong, m.Payload))
			}
		case codec.KindClose:
			off = len(buf)
			if c.closeCode == 0 {
				c.closeCode = m.Code
			}
			if c.state == stateOpen {
				c.flushPending() // replies to earlier messages go before the close
			}
			if c.state == stateOpen {
				// Echo the peer's code, as RFC 6455 section 5.5.1 asks.
				code := m.Code
				if code == codec.CloseNoStatus {
					_, _ = gc.Write(codec.Compile(codec.OpClose, nil))
				} else {
					_, _ = gc.Write(codec.CloseFrame(code, ""))
				}
			}
			c.state = stateClosed
			return gnet.Close
		}
	}
	return gnet.None
}

// inflate decompresses a permessage-deflate message into the shard's buffer
// (valid until the next message) and checks text for UTF-8.
func (e *Engine) inflate(c *conn, m codec.Message) ([]byte, error) {
	sh := c.sh
	out, err := codec.Inflate(sh.inflated[:0], m.Payload, e.cfg.MaxMessageSize)
	if cap(out) <= 1<<20 {
		sh.inflated = out[:0]
	}
	if err != nil {
		return nil, err
	}
	if m.Kind == codec.KindText && !utf8.Valid(out) {
		return nil, codec.ErrInvalidUTF8
	}
	return out, nil
}

// OnClose runs once per connection, on its loop: the connection leaves its
// channels and presences at once; its disconnect event is queued behind any
// event still in flight.
func (e *Engine) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		if w, ok := gc.Context().(*waker); ok {
			w.onClose()
		}
		return gnet.None
	}
	gc.SetContext(nil)
	c.sh.remove(c)
	prev := c.state
	c.state = stateClosed
	switch {
	case prev == stateHandshake:
		e.handshakes.Add(-1)
		return gnet.None
	case c.uid == connID{}:
		return gnet.None // refused or handed off
	}
	e.conns.remove(c)
	if c.closeCode == 0 {
		c.closeCode = codec.CloseAbnormal
	}
	e.cfg.Observer.Closed(c.closeCode)
	id := c.sh.idOf(c)
	if c.x != nil {
		c.sh.mu.Lock()
		tracked := c.x.tracked
		c.x.tracked = nil
		c.sh.mu.Unlock()
		for _, ch := range tracked {
			_ = e.untrackID(ch, id)
		}
	}
	e.leaveAll(c)
	var chans []*phxChan
	if c.dialect() != 0 {
		chans = e.phxClosed(c) // after leaveAll: no Disconnect sees a membership
	}
	e.broker.Disconnected(id)
	c.dec.Release()
	e.disconnects.Add(1)
	c.sh.post(func() {
		e.dispatch(c, Disconnect, nil, false)
		for _, ch := range chans {
			e.dispatchChannel(c, ch, Disconnect, ch.why, "", nil, false)
		}
	})
	return gnet.None
}

// OnTick advances the engine clock and has every loop sweep its timers.
func (e *Engine) OnTick() (time.Duration, gnet.Action) {
	now := time.Now().UnixNano()
	e.now.Store(now)
	for _, sh := range e.shards {
		sh.post(func() { sh.sweep(now) })
	}
	if m := e.histMem; m != nil && now-e.histSwept >= int64(history.SweepInterval) {
		e.histSwept = now
		m.Sweep()
	}
	return e.cfg.tick(), gnet.None
}

// sweep enforces the handshake deadline, credentials' expiry, pings, the
// idle timeout and the close timeout for the loop's connections, each
// looked at only once its due time (sh.due, see nextSweep) has come. It
// walks sh.conns from the end: a write that fails closes its connection at
// once (OnClose), which moves the last connection, already swept, into
// its slot; a Close only takes effect later. Loop only.
//
// Pings are spread: each connection has a phase (pingPhase) that brings its
// first ping forward by up to half the interval, so connections opened
// together are pinged over the second half of the interval rather than in
// one sweep, and every interval after that too. A connection is pinged once
// it has been silent for PingInterval less its phase and has had no ping
// for PingInterval: never later than without phases, and never more often
// than once per PingInterval.
func (sh *shard) sweep(now int64) {
	e := sh.e
	ping, idle := int64(e.cfg.PingInterval), int64(e.cfg.IdleTimeout)
	for i := len(sh.conns) - 1; i >= 0; i-- {
		if i >= len(sh.conns) {
			continue // cannot happen: a sweep closes one connection at a time
		}
		if sh.due[i] > now {
			continue
		}
		c := sh.conns[i]
		switch c.state {
		case stateHandshake:
			if now > c.timer {
				e.handshakes.Add(-1)
				e.stats.Rejected.Add(1)
				e.cfg.Observer.Rejected(http.StatusRequestTimeout)
				c.state = stateClosed
				_, _ = c.gc.Write([]byte("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
				_ = c.gc.Close()
			}
		case stateOpen:
			silent := now - c.lastRead
			if c.dialect()&dialectLongPoll != 0 {
				sh.sweepLongPoll(c, silent)
				continue
			}
			switch {
			case c.lim != nil && c.lim.expired(now):
				c.close(codec.CloseTokenExpired, ReasonTokenExpired, true)
			case idle > 0 && silent > idle:
				c.close(codec.CloseGoingAway, "idle timeout", false)
			case ping > 0 && now-c.timer >= ping && silent >= ping-c.pingPhase(ping):
				c.timer = now
				c.write(pingFrame)
			}
		case stateClosing:
			if now > c.timer {
				c.state = stateClosed
				_ = c.gc.Close()
			}
		}
		if sh.holds(c) { // a write that failed took it off the loop
			sh.due[c.idx] = c.nextSweep(ping, idle)
		}
	}
}

// nextSweep is the engine time from which the sweep must look at c again:
// the earliest of its deadlines as they stand. A read only moves them
// later, so looking then and working them out again is never late; what
// moves one earlier (an upgrade, a close, new credentials) calls recheck.
// So a sweep reads a number per connection, and the connection itself only
// when something may be due.
func (c *conn) nextSweep(ping, idle int64) int64 {
	switch c.state {
	case stateHandshake, stateClosing:
		return c.timer + 1
	case stateOpen:
		next := int64(math.MaxInt64)
		if c.lim != nil && c.lim.expires != 0 {
			next = c.lim.expires + 1
		}
		if idle > 0 {
			next = min(next, c.lastRead+idle+1)
		}
		if ping > 0 {
			next = min(next, max(c.timer+ping, c.lastRead+ping-c.pingPhase(ping)))
		}
		return next
	}
	return math.MaxInt64
}

// pingSpread divides PingInterval into the span of the connections' ping
// phases: half the interval.
const pingSpread = 2

// pingPhase is how much earlier than PingInterval after its open the
// connection's first ping is due: a fixed offset in [0, ping/pingSpread)
// taken from its id, so it costs no byte and is uniform over connections.
func (c *conn) pingPhase(ping int64) int64 { return c.uid.phase(ping / pingSpread) }

var pingFrame = codec.Compile(codec.OpPing, nil)

// gnetLogger sends gnet's own logs to slog at debug level (errors at error).
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }
