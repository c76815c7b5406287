package engine

import (
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

// conn is one client connection.
type conn struct {
	// Immutable after construction.
	gc gnet.Conn
	sh *shard

	// Immutable after the upgrade (read by helpers on any goroutine once the
	// connection is in the registry).
	id     string
	route  *Route
	params route.Params
	req    *codec.Request

	// Owned by the event loop; no locks. Fields are ordered to pack: a
	// million idle connections pay for every byte here.
	dec       codec.Decoder
	lastRead  int64           // engine clock at the last inbound bytes
	timer     int64           // open: when the last ping went out; handshake, closing: the deadline
	idx       int32           // position in sh.conns
	mark      uint32          // last fan-out that reached it (see shard.members)
	closeCode codec.CloseCode // first close code sent or received; 0 = none yet
	state     connState
	deflate   bool       // permessage-deflate negotiated
	x         *connExtra // what few connections need; nil until then

	// Guarded by sh.mu.
	gone  bool // closed: no more joins
	chans []string
}

// connExtra holds the state most connections never need, so that they do
// not pay for it. Owned by the event loop, except user (immutable after the
// upgrade).
type connExtra struct {
	user    string   // identity from the Auth hook
	tracked []string // channels where the connection is tracked
	// Workers routes only: events waiting for the pool, and whether one is
	// running there now.
	pending []*Event
	running bool
}

// extra returns c's connExtra, allocating it on first use. Loop only.
func (c *conn) extra() *connExtra {
	if c.x == nil {
		c.x = &connExtra{}
	}
	return c.x
}

// user is the identity the Auth hook returned, or "".
func (c *conn) user() string {
	if c.x == nil {
		return ""
	}
	return c.x.user
}

// write queues frame on the connection. Loop only. A connection whose queue
// passes MaxOutbound is closed as a slow consumer.
func (c *conn) write(frame []byte) {
	if c.state != stateOpen {
		return
	}
	if _, err := c.gc.Write(frame); err != nil {
		return // gnet closed the connection; OnClose has run
	}
	if c.gc.OutboundBuffered() > c.sh.e.cfg.MaxOutbound {
		c.sh.e.stats.SlowConsumers.Add(1)
		c.close(codec.ClosePolicyViolation, "slow consumer", false)
	}
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
	_, _ = c.gc.Write(codec.CloseFrame(code, reason))
	if c.state != stateOpen {
		return // the write failed and closed it
	}
	c.state = stateClosing
	c.timer = c.sh.e.clock() + int64(c.sh.e.cfg.CloseTimeout)
	if !wait {
		_ = c.gc.Close() // gnet flushes the frame, then closes
	}
}
