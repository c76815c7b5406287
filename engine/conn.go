package engine

import (
	"slices"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/route"
)

type connState uint8

const (
	stateHandshake connState = iota // reading the request head
	stateOpen                       // upgraded; frames flow
	stateClosing                    // close frame sent; waiting for the reply
	stateClosed                     // gnet closed it (or will, right after this callback)
	stateHTTP                       // handed to net/http
)

// conn is one client connection. Fields are ordered to pack: a million
// idle connections pay for every byte here (192 bytes, a size class; see
// TestConnSize).
type conn struct {
	// Immutable after construction.
	gc gnet.Conn
	sh *shard

	// Immutable after the upgrade (read by helpers on any goroutine once the
	// connection is in the registry). req is filled in by the handshake, on
	// the loop; events point to it, so it is kept here rather than on its
	// own.
	uid connID   // the id's UUID; zero until the upgrade (see id)
	rt  *binding // its route and params
	req codec.Request

	// Owned by the event loop; no locks.
	dec       codec.Decoder
	lastRead  int64           // engine clock at the last inbound bytes
	timer     int64           // open: when the last ping went out (at first, the open less its ping phase); handshake, closing: the deadline
	x         *connExtra      // what few connections need; nil until then
	lim       *limits         // rate limit and credentials' expiry; nil unless the connection has either
	idx       int32           // position in sh.conns
	out       int32           // 1 + position in sh.dirty while frames wait for a flush; 0 = none
	mark      uint32          // last fan-out that reached it (see shard.members)
	closeCode codec.CloseCode // first close code sent or received; 0 = none yet
	state     connState
	running   bool // Workers routes only: one of its events is in the pool now

	// Guarded by sh.mu.
	chans *[]string // channels joined; nil until the first join, closedChans once closed; shard.only[ch] while ch is its one channel
}

// closedChans is the chans of a closed connection: no more joins. (A flag
// would cost every connection 8 bytes.)
var closedChans = new([]string)

// binding is a connection's route and the params its path gave. The
// connections of a route without params share the route's own (Handle);
// a route with params gives each connection one.
type binding struct {
	route  *Route       // Immutable.
	params route.Params // Immutable.
	phx    dialect      // Immutable: the Phoenix socket's dialect (Engine.phxBindings); 0 on every other route
}

// deflate reports whether c negotiated permessage-deflate.
func (c *conn) deflate() bool { return c.dec.Deflate }

// connExtra holds the state most connections never need, so that they do
// not pay for it. Owned by the event loop, except user and id (immutable
// after the upgrade; c.x itself is then set for good when id is used) and
// tracked. c.x is set under sh.mu, so that a helper holding sh.mu may read
// it from any goroutine.
type connExtra struct {
	user    string   // identity from the Auth hook
	id      string   // the id, when the broker makes them (registry.custom)
	tracked []string // Guarded by sh.mu: channels where the connection is tracked
	pending []*Event // Workers routes only: events waiting for the pool
}

// dialect is c's protocol: 0 for the raw one, else Phoenix's. It is its
// binding's (check, or a long-poll open, gives a Phoenix connection one of
// Engine.phxBindings), so that it costs a connection nothing.
func (c *conn) dialect() dialect {
	if c.rt == nil {
		return 0
	}
	return c.rt.phx
}

// extra returns c's connExtra, allocating it on first use. Loop only; not
// with sh.mu held.
func (c *conn) extra() *connExtra {
	if c.x == nil {
		x := &connExtra{}
		c.sh.mu.Lock()
		c.x = x
		c.sh.mu.Unlock()
	}
	return c.x
}

// dropTracked removes channel from c's tracked channels and reports
// whether it was there; sh.mu must be held.
func (c *conn) dropTracked(channel string) bool {
	if c.x == nil {
		return false
	}
	i := slices.Index(c.x.tracked, channel)
	if i < 0 {
		return false
	}
	c.x.tracked = slices.Delete(c.x.tracked, i, i+1)
	return true
}

// id is the connection's id, spelled out anew on each call (see connID;
// on the loop, shard.idOf reuses the last one). Safe from any goroutine
// once the connection is upgraded.
func (c *conn) id() string { return c.sh.e.conns.idText(c) }

// user is the identity the Auth hook returned, or "".
func (c *conn) user() string {
	if c.x == nil {
		return ""
	}
	return c.x.user
}

// write queues frame on the connection. Loop only. Frames wait until the
// callback that queued them ends (shard.flushTurn), then each connection gets
// all of its frames in one write or writev: when several messages reach a
// connection at once, that is one syscall instead of several. A connection
// whose queue passes MaxOutbound is closed as a slow consumer.
func (c *conn) write(frame []byte) {
	if c.state != stateOpen {
		return
	}
	sh := c.sh
	if c.out == 0 {
		sh.dirty = append(sh.dirty, c)
		if len(sh.pending) < len(sh.dirty) {
			sh.pending = append(sh.pending, nil)
		}
		c.out = int32(len(sh.dirty))
	}
	sh.pending[c.out-1] = append(sh.pending[c.out-1], frame)
}

// writeNow writes frames (one or several, as one writev) and applies the
// slow-consumer cap: a connection may always have one round of output in
// flight, however large (a 6 MiB echo is fine); it is closed when output is
// still queued from before and the queue now passes MaxOutbound. Loop only.
func (c *conn) writeNow(frames ...[]byte) {
	backlog := c.gc.OutboundBuffered()
	var err error
	if len(frames) == 1 {
		_, err = c.gc.Write(frames[0])
	} else {
		err = c.writeCoalesced(frames)
	}
	if err != nil || c.state != stateOpen {
		return // gnet closed the connection; OnClose has run
	}
	if backlog > 0 && c.gc.OutboundBuffered() > c.sh.e.cfg.MaxOutbound {
		// The close frame waits behind the backlog: a client that resumes
		// reading within CloseTimeout still gets everything and the 1008.
		c.sh.e.stats.SlowConsumers.Add(1)
		c.close(codec.ClosePolicyViolation, "slow consumer", true)
	}
}

// maxCoalesce bounds the bytes copied into one write.
const maxCoalesce = 64 << 10

// writeCoalesced writes several frames with as few writes as possible:
// small frames are copied into the shard's reused buffer and written
// together (cheaper than the iovec array a writev allocates, and never over
// the kernel's iovec limit); a large frame is written from its own bytes.
func (c *conn) writeCoalesced(frames [][]byte) error {
	sh := c.sh
	buf := sh.coalesce[:0]
	defer func() { sh.coalesce = buf[:0] }()
	for _, f := range frames {
		if len(buf) > 0 && len(buf)+len(f) > maxCoalesce {
			if _, err := c.gc.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if len(f) >= maxCoalesce {
			if _, err := c.gc.Write(f); err != nil {
				return err
			}
			continue
		}
		buf = append(buf, f...)
	}
	if len(buf) > 0 {
		_, err := c.gc.Write(buf)
		return err
	}
	return nil
}

// flushPending writes the frames c has waiting, so that nothing queued
// before a close frame is lost behind it, and returns their size. Loop only.
func (c *conn) flushPending() int {
	if c.out == 0 {
		return 0
	}
	sh := c.sh
	frames := sh.pending[c.out-1]
	sh.pending[c.out-1] = frames[:0]
	n := 0
	if len(frames) > 0 && c.state == stateOpen {
		for _, f := range frames {
			n += len(f)
		}
		c.writeNow(frames...)
	}
	clear(frames)
	return n
}

// close starts the closing handshake: it sends a close frame and, with wait,
// gives the client CloseTimeout to answer before the TCP connection is
// closed; without wait the TCP connection is closed once the frame is
// flushed. Loop only.
func (c *conn) close(code codec.CloseCode, reason string, wait bool) {
	switch c.state {
	case stateHandshake:
		c.sh.e.handshakes.Add(-1)
		c.state = stateClosed
		_ = c.gc.Close()
		return
	case stateOpen:
	default:
		return
	}
	if c.closeCode == 0 {
		c.closeCode = code
	}
	if code != codec.ClosePolicyViolation { // a slow consumer's backlog is dropped
		c.flushPending()
		if c.state != stateOpen {
			return
		}
	}
	_, _ = c.gc.Write(codec.CloseFrame(code, reason))
	if c.state != stateOpen {
		return // the write failed and closed it
	}
	c.state = stateClosing
	c.timer = time.Now().UnixNano() + int64(c.sh.e.cfg.CloseTimeout)
	c.sh.recheck(c)
	if !wait {
		_ = c.gc.Close() // gnet flushes the frame, then closes
	}
}
