//go:build linux

package loadgen

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// Config configures a Loop. The zero value of every field but Addr is usable.
type Config struct {
	// Addr is the server's address. Required; IPv4 only.
	Addr netip.AddrPort
	// Host is sent as the Host header. Default: Addr.String().
	Host string
	// Sources are the local addresses connections bind to, round-robin starting
	// at SourceOffset. Empty: the kernel picks.
	Sources      []netip.Addr
	SourceOffset int
	// MaxInflight bounds dials plus handshakes in progress. Default 256.
	MaxInflight int
	// DialRate bounds new dials per second. 0: no bound besides MaxInflight.
	DialRate float64
	// HandshakeTimeout fails a dial that has not opened in time. Default 10s.
	HandshakeTimeout time.Duration
	// MaxMessage bounds a server frame's payload. Default 16 MiB.
	MaxMessage int
	// Tick is the period of Handler.OnTick. Default 10ms.
	Tick time.Duration
	// ReadBuffer is the size of the loop's read buffer. Default 256 KiB.
	ReadBuffer int
	// Coalesce, when set, spaces the loop's polls at least this far apart
	// while they find work: readiness gathers between two polls and one
	// serves it all, as a NIC coalesces interrupts. On loopback the kernel
	// wakes a reader from the sender's write, so a loop that sleeps in
	// epoll_wait for every message bills each of the server's writes a
	// wake-up that a remote client would not; spaced polls leave the
	// sockets' readiness to queue without one. Latencies grow by up to
	// Coalesce. 0: poll again at once.
	Coalesce time.Duration
}

// Handler receives a loop's events, always on the loop goroutine.
type Handler interface {
	// OnOpen is called when a dial completed its upgrade.
	OnOpen(c *Conn)
	// OnMessage is called for every complete text or binary message; p is valid
	// until OnMessage returns.
	OnMessage(c *Conn, op wsproto.Opcode, p []byte)
	// OnClose is called exactly once per dialed Conn, when it closes for any
	// reason: err is ErrLocalClose after Close/Abort, a *DialError when it never
	// opened, a *CloseError when the server sent a close frame, another error
	// otherwise.
	OnClose(c *Conn, err error)
	// OnTick is called every Config.Tick with the loop's clock (Loop.Now).
	OnTick(now int64)
}

// Opener is implemented by a Handler whose connections speak a protocol with
// an opening of its own after the WebSocket upgrade (a Centrifuge connect
// command, a Socket.IO namespace connect). After the 101 the loop calls
// OnUpgrade instead of OnOpen; the connection may then write, and its
// messages go to OnMessage, but it still counts as a dial in flight (under
// MaxInflight and the handshake timeout) and Open reports false until the
// handler calls Ready: then it counts as opened (its handshake time runs to
// Ready) and OnOpen follows. Reject fails it as a dial that never opened.
type Opener interface {
	OnUpgrade(c *Conn)
}

// Stats are a loop's counters, readable from any goroutine.
type Stats struct {
	Dials     atomic.Int64 // dials started
	Inflight  atomic.Int64 // dials plus handshakes in progress
	Opened    atomic.Int64 // upgrades completed
	Open      atomic.Int64 // currently open
	Failed    atomic.Int64 // dials that never opened
	Dropped   atomic.Int64 // open connections closed by the server or an error
	Queued    atomic.Int64 // dials waiting for a slot
	BytesIn   atomic.Int64
	BytesOut  atomic.Int64
	FramesIn  atomic.Int64
	FramesOut atomic.Int64
}

type connState uint8

const (
	stateConnecting connState = iota + 1
	stateHandshake
	stateSession // upgraded; the Opener's opening is under way
	stateOpen
	stateClosed
)

// Conn is one client connection. Its methods may only be called on the loop
// goroutine.
type Conn struct {
	// Tag is set by Dial's caller; the loop never touches it.
	Tag int
	// Ext is the Handler's per-connection state (an Opener's, say); the
	// loop never touches it.
	Ext any

	// Owned by the event loop; no locks.
	loop     *Loop
	fd       int
	state    connState
	path     string
	key      [wsproto.KeyLen]byte
	start    int64 // loop clock at dial
	dialIdx  int   // index in loop.dialing while connecting/handshaking
	in       []byte
	out      []byte
	frag     []byte
	fragOp   wsproto.Opcode
	fragging bool
	wantOut  bool
}

// Path is the request path the connection was dialed with.
func (c *Conn) Path() string { return c.path }

// Open reports whether the upgrade (and an Opener's opening) completed and
// the connection is not closed.
func (c *Conn) Open() bool { return c.state == stateOpen }

// writable reports whether frames may be written: open, or upgraded and in
// an Opener's opening.
func (c *Conn) writable() bool { return c.state == stateOpen || c.state == stateSession }

// opening reports whether the connection is upgrading or in an Opener's
// opening, and the stage a failure then reports.
func (c *Conn) opening() (string, bool) {
	switch c.state {
	case stateHandshake:
		return "handshake", true
	case stateSession:
		return "session", true
	}
	return "", false
}

// Ready ends an Opener's opening: the connection counts as opened and the
// Handler's OnOpen runs. It does nothing in any other state.
func (c *Conn) Ready() {
	if c.state == stateSession {
		c.loop.opened(c)
	}
}

// Reject ends an Opener's opening with err: the connection is closed and
// counts as a failed dial (OnClose gets a *DialError of stage "session").
// It does nothing in any other state.
func (c *Conn) Reject(err error) {
	if c.state == stateSession {
		c.loop.fail(c, "session", err)
	}
}

// DialStart is the loop clock when the dial started.
func (c *Conn) DialStart() int64 { return c.start }

type dialReq struct {
	path string
	tag  int
	to   unix.SockaddrInet4 // Port 0: the loop's Config.Addr
}

// Loop is one event loop. Create with New, run with Run.
type Loop struct {
	// Immutable after construction.
	cfg     Config
	h       Handler
	epfd    int
	wakefd  int
	raddr   unix.SockaddrInet4
	sources []unix.SockaddrInet4
	base    time.Time

	// Stats may be read from any goroutine.
	Stats Stats

	// Guarded by mu.
	mu      sync.Mutex
	tasks   []func()
	stopped bool
	limit   error

	// Owned by the event loop; no locks.
	conns      []*Conn // by fd
	dialing    []*Conn
	queue      []dialReq
	queueHead  int
	srcNext    int
	tokens     float64
	lastRefill int64
	nextTick   int64
	rbuf       []byte
	wbuf       []byte
	rng        uint64
	handshake  hist.Histogram
	reasons    map[string]int64
	firstLimit error
	done       bool
	runTasks   []func()
	timerfd    int    // -1 until the first Wake
	wakeFn     func() // pending Wake callback
}

// New creates a loop. It does not start it.
func New(cfg Config, h Handler) (*Loop, error) {
	if !cfg.Addr.IsValid() || !cfg.Addr.Addr().Is4() {
		return nil, fmt.Errorf("loadgen: server address %v must be IPv4", cfg.Addr)
	}
	if cfg.Host == "" {
		cfg.Host = cfg.Addr.String()
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 256
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 16 << 20
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 10 * time.Millisecond
	}
	if cfg.ReadBuffer <= 0 {
		cfg.ReadBuffer = 256 << 10
	}
	l := &Loop{cfg: cfg, h: h, base: time.Now(), reasons: map[string]int64{}, timerfd: -1}
	l.raddr = unix.SockaddrInet4{Port: int(cfg.Addr.Port()), Addr: cfg.Addr.Addr().As4()}
	for _, s := range cfg.Sources {
		if !s.Is4() {
			return nil, fmt.Errorf("loadgen: source address %v must be IPv4", s)
		}
		l.sources = append(l.sources, unix.SockaddrInet4{Addr: s.As4()})
	}
	if len(l.sources) > 0 {
		l.srcNext = cfg.SourceOffset % len(l.sources)
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	l.rng = binary.LittleEndian.Uint64(seed[:]) | 1
	l.rbuf = make([]byte, cfg.ReadBuffer)
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("loadgen: epoll_create: %w", err)
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		unix.Close(l.epfd)
		return nil, fmt.Errorf("loadgen: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.wakefd)}
	if err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.wakefd, &ev); err != nil {
		unix.Close(l.epfd)
		unix.Close(l.wakefd)
		return nil, fmt.Errorf("loadgen: epoll_ctl: %w", err)
	}
	return l, nil
}

// Now is the loop clock: nanoseconds since New, monotonic.
func (l *Loop) Now() int64 { return int64(time.Since(l.base)) }

// Execute runs f on the loop goroutine. Safe from any goroutine. Functions run in
// submission order; after Stop they are dropped.
func (l *Loop) Execute(f func()) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	wake := len(l.tasks) == 0
	l.tasks = append(l.tasks, f)
	l.mu.Unlock()
	if wake {
		var one [8]byte
		binary.LittleEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(l.wakefd, one[:])
	}
}

// Stop makes Run abort every connection and return. Safe from any goroutine.
func (l *Loop) Stop() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		l.tasks = append(l.tasks, func() { l.done = true })
	}
	l.mu.Unlock()
	var one [8]byte
	binary.LittleEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(l.wakefd, one[:])
}

// LimitError returns the first system-limit error (EMFILE, EADDRNOTAVAIL, …)
// any dial hit, or nil. Safe from any goroutine.
func (l *Loop) LimitError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// Handshakes returns a copy of the handshake latency histogram (dial start to
// 101 parsed, ns). Loop goroutine only.
func (l *Loop) Handshakes() *hist.Histogram {
	h := l.handshake
	return &h
}

// FailureReasons returns the count of failed dials and dropped connections per
// reason. Loop goroutine only.
func (l *Loop) FailureReasons() map[string]int64 {
	m := make(map[string]int64, len(l.reasons))
	for k, v := range l.reasons {
		m[k] = v
	}
	return m
}

// SetDialRate changes the dial rate (0: unbounded). Loop goroutine only.
func (l *Loop) SetDialRate(perSec float64) {
	l.cfg.DialRate = perSec
	l.tokens = 0
	l.lastRefill = l.Now()
}

// SetTick changes the OnTick period. Loop goroutine only.
func (l *Loop) SetTick(d time.Duration) {
	if d <= 0 {
		d = 10 * time.Millisecond
	}
	l.cfg.Tick = d
	if nt := l.Now() + int64(d); nt < l.nextTick {
		l.nextTick = nt
	}
}

// Wake arms the loop's one-shot timer: f runs on the loop goroutine at loop
// clock at (Now), or as soon as possible when at has passed. A later Wake
// replaces a pending one. The timer is a timerfd, precise to the kernel's
// timer slack (~50µs) where OnTick has millisecond steps: it paces timed
// sends. Loop goroutine only.
func (l *Loop) Wake(at int64, f func()) error {
	if l.timerfd < 0 {
		fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			return fmt.Errorf("loadgen: timerfd_create: %w", err)
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(fd)
			return fmt.Errorf("loadgen: epoll_ctl: %w", err)
		}
		l.timerfd = fd
	}
	d := at - l.Now()
	if d < 1 {
		d = 1 // a zero value would disarm the timer
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d)}
	if err := unix.TimerfdSettime(l.timerfd, 0, &spec, nil); err != nil {
		return fmt.Errorf("loadgen: timerfd_settime: %w", err)
	}
	l.wakeFn = f
	return nil
}

// fire runs the pending Wake callback once the timerfd expired.
func (l *Loop) fire() {
	var buf [8]byte
	_, _ = unix.Read(l.timerfd, buf[:])
	if f := l.wakeFn; f != nil {
		l.wakeFn = nil
		f()
	}
}

// Dial queues a connection to path. It starts when a slot is free and the dial
// rate allows; the Handler then gets OnOpen or OnClose. Loop goroutine only.
func (l *Loop) Dial(path string, tag int) {
	if len(l.queue)-l.queueHead == 0 && l.cfg.DialRate > 0 {
		// Start a fresh token bucket instead of spending idle-time credit.
		l.tokens = 0
		l.lastRefill = l.Now()
	}
	l.queue = append(l.queue, dialReq{path: path, tag: tag})
	l.Stats.Queued.Add(1)
}

// DialAddr is Dial to another server than the loop's Config.Addr (a node
// of a cluster, say); addr must be IPv4, else the dial fails at its
// connect stage. Loop goroutine only.
func (l *Loop) DialAddr(addr netip.AddrPort, path string, tag int) {
	l.Dial(path, tag)
	req := &l.queue[len(l.queue)-1]
	a := addr.Addr().Unmap()
	if !a.Is4() || addr.Port() == 0 {
		req.to = unix.SockaddrInet4{Port: -1}
		return
	}
	req.to = unix.SockaddrInet4{Port: int(addr.Port()), Addr: a.As4()}
}

// CancelDials drops every queued dial that has not started. Loop goroutine only.
func (l *Loop) CancelDials() int {
	n := len(l.queue) - l.queueHead
	l.queue = l.queue[:0]
	l.queueHead = 0
	l.Stats.Queued.Add(-int64(n))
	return n
}

// Conns calls f for every connection (any state). f may close the connection.
// Loop goroutine only.
func (l *Loop) Conns(f func(c *Conn)) {
	for _, c := range l.conns {
		if c != nil {
			f(c)
		}
	}
}

// Run runs the loop until Stop. It locks the goroutine to its thread.
func (l *Loop) Run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.shutdown()
	events := make([]unix.EpollEvent, 1024)
	now := l.Now()
	l.nextTick = now + int64(l.cfg.Tick)
	l.lastRefill = now
	var busy int64 // when the last poll that found work returned (0: it found none)
	for !l.done {
		timeout := l.timeout(now)
		if busy != 0 {
			if d := busy + int64(l.cfg.Coalesce) - now; d > 0 {
				time.Sleep(time.Duration(d))
			}
		}
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if busy = 0; n > 0 && l.cfg.Coalesce > 0 {
			busy = l.Now()
		}
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("loadgen: epoll_wait: %w", err)
		}
		for i := 0; i < n; i++ {
			ev := &events[i]
			fd := int(ev.Fd)
			if fd == l.wakefd {
				var buf [8]byte
				_, _ = unix.Read(l.wakefd, buf[:])
				continue
			}
			if fd == l.timerfd {
				l.fire()
				continue
			}
			if fd >= len(l.conns) || l.conns[fd] == nil {
				continue
			}
			l.event(l.conns[fd], ev.Events)
		}
		l.runQueued()
		now = l.Now()
		l.pump(now)
		if now >= l.nextTick {
			l.expire(now)
			l.h.OnTick(now)
			l.nextTick = now + int64(l.cfg.Tick)
		}
	}
	return nil
}

func (l *Loop) timeout(now int64) int {
	d := l.nextTick - now
	if l.cfg.DialRate > 0 && len(l.queue) > l.queueHead && len(l.dialing) < l.cfg.MaxInflight {
		if w := int64(float64(time.Second) / l.cfg.DialRate); w < d {
			d = w
		}
	}
	l.mu.Lock()
	if len(l.tasks) > 0 {
		d = 0
	}
	l.mu.Unlock()
	if d <= 0 {
		return 0
	}
	ms := int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
	return ms
}

func (l *Loop) runQueued() {
	l.mu.Lock()
	l.runTasks, l.tasks = l.tasks, l.runTasks[:0]
	l.mu.Unlock()
	for i, f := range l.runTasks {
		f()
		l.runTasks[i] = nil
	}
}

func (l *Loop) shutdown() {
	for _, c := range l.conns {
		if c != nil {
			l.closeConn(c, ErrStopped, true)
		}
	}
	l.CancelDials()
	if l.timerfd >= 0 {
		unix.Close(l.timerfd)
	}
	unix.Close(l.epfd)
	unix.Close(l.wakefd)
}

// pump starts queued dials while slots and rate allow.
func (l *Loop) pump(now int64) {
	if len(l.queue) == l.queueHead {
		return
	}
	if l.cfg.DialRate > 0 {
		l.tokens += float64(now-l.lastRefill) / float64(time.Second) * l.cfg.DialRate
		l.lastRefill = now
		burst := l.cfg.DialRate / 100
		if burst < 1 {
			burst = 1
		}
		if l.tokens > burst {
			l.tokens = burst
		}
	}
	for len(l.queue) > l.queueHead && len(l.dialing) < l.cfg.MaxInflight {
		if l.cfg.DialRate > 0 {
			if l.tokens < 1 {
				break
			}
			l.tokens--
		}
		req := l.queue[l.queueHead]
		l.queue[l.queueHead] = dialReq{}
		l.queueHead++
		l.Stats.Queued.Add(-1)
		l.startDial(req, now)
	}
	if l.queueHead == len(l.queue) {
		l.queue = l.queue[:0]
		l.queueHead = 0
	} else if l.queueHead > 4096 && l.queueHead*2 > len(l.queue) {
		n := copy(l.queue, l.queue[l.queueHead:])
		l.queue = l.queue[:n]
		l.queueHead = 0
	}
}

func (l *Loop) nextMask() [4]byte {
	l.rng ^= l.rng << 13
	l.rng ^= l.rng >> 7
	l.rng ^= l.rng << 17
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], uint32(l.rng>>16))
	return m
}

func (l *Loop) fail(c *Conn, stage string, err error) {
	l.closeConn(c, &DialError{Stage: stage, Err: err}, true)
}

func (l *Loop) noteLimit(err error) {
	if LimitHint(err) == "" {
		return
	}
	l.mu.Lock()
	if l.limit == nil {
		l.limit = err
	}
	l.mu.Unlock()
}

func (l *Loop) startDial(req dialReq, now int64) {
	l.Stats.Dials.Add(1)
	l.Stats.Inflight.Add(1)
	c := &Conn{Tag: req.tag, loop: l, fd: -1, path: req.path, start: now, state: stateConnecting}
	c.dialIdx = len(l.dialing)
	l.dialing = append(l.dialing, c)
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:8], l.rng*0x9E3779B97F4A7C15)
	l.nextMask()
	binary.LittleEndian.PutUint64(nonce[8:], l.rng)
	c.key = wsproto.MakeKey(nonce)

	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		l.noteLimit(err)
		l.fail(c, "socket", err)
		return
	}
	c.fd = fd
	l.track(c)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if len(l.sources) > 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		src := &l.sources[l.srcNext]
		l.srcNext++
		if l.srcNext == len(l.sources) {
			l.srcNext = 0
		}
		if err := unix.Bind(fd, src); err != nil {
			l.noteLimit(err)
			l.fail(c, "bind", err)
			return
		}
	}
	to := &l.raddr
	if req.to.Port != 0 {
		to = &req.to
	}
	if to.Port < 0 {
		l.fail(c, "connect", errors.New("server address is not IPv4"))
		return
	}
	err = unix.Connect(fd, to)
	switch err {
	case nil:
		c.state = stateHandshake
		if !l.register(c, unix.EPOLLIN) {
			return
		}
		l.sendRequest(c)
	case unix.EINPROGRESS, unix.EINTR:
		l.register(c, unix.EPOLLOUT)
	default:
		l.noteLimit(err)
		l.fail(c, "connect", err)
	}
}

func (l *Loop) track(c *Conn) {
	for c.fd >= len(l.conns) {
		n := len(l.conns) * 2
		if n < 1024 {
			n = 1024
		}
		grown := make([]*Conn, n)
		copy(grown, l.conns)
		l.conns = grown
	}
	l.conns[c.fd] = c
}

func (l *Loop) register(c *Conn, events uint32) bool {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		l.noteLimit(err)
		l.fail(c, "epoll", err)
		return false
	}
	return true
}

func (l *Loop) modify(c *Conn, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

func (l *Loop) sendRequest(c *Conn) {
	l.wbuf = wsproto.AppendRequest(l.wbuf[:0], l.cfg.Host, c.path, c.key[:])
	c.write(l.wbuf)
}

func (l *Loop) event(c *Conn, ev uint32) {
	if c.state == stateConnecting {
		errno, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && errno != 0 {
			err = unix.Errno(errno)
		}
		if err != nil {
			l.noteLimit(err)
			l.fail(c, "connect", err)
			return
		}
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		c.state = stateHandshake
		l.modify(c, unix.EPOLLIN)
		l.sendRequest(c)
		return
	}
	if ev&unix.EPOLLOUT != 0 && c.wantOut {
		c.flush()
		if c.state == stateClosed {
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
		l.readable(c)
	}
}

func (l *Loop) readable(c *Conn) {
	for i := 0; i < 8; i++ {
		n, err := unix.Read(c.fd, l.rbuf)
		if n > 0 {
			l.Stats.BytesIn.Add(int64(n))
			l.consume(c, l.rbuf[:n])
			if c.state == stateClosed || n < len(l.rbuf) {
				return
			}
			continue
		}
		switch {
		case n == 0 && err == nil:
			if stage, ok := c.opening(); ok {
				l.fail(c, stage, ErrServerEOF)
			} else {
				l.closeConn(c, ErrServerEOF, true)
			}
			return
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			continue
		default:
			if stage, ok := c.opening(); ok {
				l.fail(c, stage, err)
			} else {
				l.closeConn(c, err, true)
			}
			return
		}
	}
}

func (l *Loop) consume(c *Conn, data []byte) {
	buf := data
	inBuf := len(c.in) > 0
	if inBuf {
		c.in = append(c.in, data...)
		buf = c.in
	}
	off := 0
	if c.state == stateHandshake {
		n, err := wsproto.ParseResponse(buf, c.key[:])
		if err != nil {
			l.fail(c, "handshake", err)
			return
		}
		if n == 0 {
			if !inBuf {
				c.in = append(c.in[:0], data...)
			}
			return
		}
		off = n
		l.upgraded(c)
		if !c.writable() {
			return
		}
	}
	for off < len(buf) {
		f, n, err := wsproto.ParseFrame(buf[off:], l.cfg.MaxMessage)
		if err != nil {
			l.protocolError(c, err)
			return
		}
		if n == 0 {
			break
		}
		off += n
		l.Stats.FramesIn.Add(1)
		l.frame(c, f)
		if !c.writable() {
			return
		}
	}
	rest := buf[off:]
	switch {
	case len(rest) == 0:
		if cap(c.in) > 64<<10 {
			c.in = nil
		} else {
			c.in = c.in[:0]
		}
	case inBuf:
		c.in = c.in[:copy(c.in, rest)]
	default:
		c.in = append(c.in[:0], rest...)
	}
}

// upgraded moves c on after its 101: into the Opener's opening, or open.
func (l *Loop) upgraded(c *Conn) {
	if op, ok := l.h.(Opener); ok {
		c.state = stateSession
		op.OnUpgrade(c)
		return
	}
	l.opened(c)
}

func (l *Loop) opened(c *Conn) {
	l.undial(c)
	c.state = stateOpen
	l.Stats.Opened.Add(1)
	l.Stats.Open.Add(1)
	l.handshake.Record(l.Now() - c.start)
	l.h.OnOpen(c)
}

func (l *Loop) undial(c *Conn) {
	if c.dialIdx < 0 {
		return
	}
	last := len(l.dialing) - 1
	moved := l.dialing[last]
	l.dialing[c.dialIdx] = moved
	moved.dialIdx = c.dialIdx
	l.dialing[last] = nil
	l.dialing = l.dialing[:last]
	c.dialIdx = -1
	l.Stats.Inflight.Add(-1)
}

// expire fails dials older than the handshake timeout.
func (l *Loop) expire(now int64) {
	limit := now - int64(l.cfg.HandshakeTimeout)
	for i := 0; i < len(l.dialing); {
		c := l.dialing[i]
		if c.start < limit {
			stage, ok := c.opening()
			if !ok {
				stage = "handshake"
			}
			l.fail(c, stage, ErrTimeout) // swaps another entry into i
			continue
		}
		i++
	}
}

func (l *Loop) frame(c *Conn, f wsproto.Frame) {
	switch f.Op {
	case wsproto.OpText, wsproto.OpBinary:
		if c.fragging {
			l.protocolError(c, fmt.Errorf("%w: new message inside a fragmented one", wsproto.ErrProtocol))
			return
		}
		if f.Fin {
			l.h.OnMessage(c, f.Op, f.Payload)
			return
		}
		c.fragging = true
		c.fragOp = f.Op
		c.frag = append(c.frag[:0], f.Payload...)
	case wsproto.OpContinuation:
		if !c.fragging {
			l.protocolError(c, fmt.Errorf("%w: continuation without a message", wsproto.ErrProtocol))
			return
		}
		c.frag = append(c.frag, f.Payload...)
		if len(c.frag) > l.cfg.MaxMessage {
			l.protocolError(c, wsproto.ErrTooLarge)
			return
		}
		if f.Fin {
			c.fragging = false
			l.h.OnMessage(c, c.fragOp, c.frag)
			if cap(c.frag) > 64<<10 {
				c.frag = nil
			} else {
				c.frag = c.frag[:0]
			}
		}
	case wsproto.OpPing:
		l.wbuf = wsproto.AppendFrame(l.wbuf[:0], true, wsproto.OpPong, f.Payload, l.nextMask())
		c.write(l.wbuf)
	case wsproto.OpPong:
	case wsproto.OpClose:
		code := wsproto.CloseCode(f.Payload)
		reason := ""
		if len(f.Payload) > 2 {
			reason = string(f.Payload[2:])
		}
		reply := code
		if reply == 1005 {
			reply = 1000
		}
		l.wbuf = wsproto.AppendClose(l.wbuf[:0], reply, "", l.nextMask())
		c.write(l.wbuf)
		l.closeConn(c, &CloseError{Code: code, Reason: reason}, false)
	}
}

func (l *Loop) protocolError(c *Conn, err error) {
	if c.writable() {
		l.wbuf = wsproto.AppendClose(l.wbuf[:0], 1002, "", l.nextMask())
		c.write(l.wbuf)
	}
	l.closeConn(c, err, true)
}

// closeConn releases c and reports err to the handler. abort resets the TCP
// connection instead of a FIN.
func (l *Loop) closeConn(c *Conn, err error, abort bool) {
	if c.state == stateClosed {
		return
	}
	wasOpen := c.state == stateOpen
	var de *DialError
	if c.state == stateSession && !errors.As(err, &de) {
		err = &DialError{Stage: "session", Err: err}
	}
	l.undial(c)
	c.state = stateClosed
	if c.fd >= 0 {
		if abort {
			_ = unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		}
		if c.fd < len(l.conns) && l.conns[c.fd] == c {
			l.conns[c.fd] = nil
		}
		unix.Close(c.fd)
		c.fd = -1
	}
	c.in, c.out, c.frag = nil, nil, nil
	switch {
	case wasOpen:
		l.Stats.Open.Add(-1)
		if !errors.Is(err, ErrLocalClose) && !errors.Is(err, ErrStopped) {
			l.Stats.Dropped.Add(1)
			l.reasons[Reason(err)]++
		}
	default:
		l.Stats.Failed.Add(1)
		l.reasons[Reason(err)]++
	}
	l.h.OnClose(c, err)
}

// WriteText sends p as one masked text frame.
func (c *Conn) WriteText(p []byte) { c.WriteFrame(wsproto.OpText, p) }

// WriteFrame sends p as one masked frame with opcode op.
func (c *Conn) WriteFrame(op wsproto.Opcode, p []byte) {
	if !c.writable() {
		return
	}
	l := c.loop
	l.wbuf = wsproto.AppendFrame(l.wbuf[:0], true, op, p, l.nextMask())
	l.Stats.FramesOut.Add(1)
	c.write(l.wbuf)
}

// WriteRaw sends pre-encoded bytes (already masked frames).
func (c *Conn) WriteRaw(b []byte) {
	if c.writable() {
		c.write(b)
	}
}

// AppendFrame appends a masked frame for this connection's loop to dst, for
// callers that batch several frames into one WriteRaw.
func (c *Conn) AppendFrame(dst []byte, op wsproto.Opcode, p []byte) []byte {
	c.loop.Stats.FramesOut.Add(1)
	return wsproto.AppendFrame(dst, true, op, p, c.loop.nextMask())
}

// Close sends a close frame (1000) and closes the socket. The handler's OnClose
// runs with ErrLocalClose before Close returns.
func (c *Conn) Close() {
	if c.state == stateClosed {
		return
	}
	l := c.loop
	if c.writable() {
		l.wbuf = wsproto.AppendClose(l.wbuf[:0], 1000, "", l.nextMask())
		c.write(l.wbuf)
	}
	l.closeConn(c, ErrLocalClose, false)
}

// Abort resets the connection (no close frame, RST instead of FIN, so no
// TIME_WAIT is left behind). OnClose runs with ErrLocalClose.
func (c *Conn) Abort() {
	c.loop.closeConn(c, ErrLocalClose, true)
}

func (c *Conn) write(b []byte) {
	if c.fd < 0 {
		return
	}
	l := c.loop
	if len(c.out) > 0 {
		c.out = append(c.out, b...)
		return
	}
	for {
		n, err := unix.Write(c.fd, b)
		if n > 0 {
			l.Stats.BytesOut.Add(int64(n))
			b = b[n:]
			if len(b) == 0 {
				return
			}
			continue
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			c.out = append(c.out, b...)
			if !c.wantOut {
				c.wantOut = true
				if c.state != stateConnecting {
					l.modify(c, unix.EPOLLIN|unix.EPOLLOUT)
				}
			}
			return
		default:
			l.closeConn(c, err, true)
			return
		}
	}
}

func (c *Conn) flush() {
	l := c.loop
	for len(c.out) > 0 {
		n, err := unix.Write(c.fd, c.out)
		if n > 0 {
			l.Stats.BytesOut.Add(int64(n))
			c.out = c.out[n:]
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return
		}
		l.closeConn(c, err, true)
		return
	}
	c.out = nil
	c.wantOut = false
	l.modify(c, unix.EPOLLIN)
}
