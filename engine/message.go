package engine

import (
	"sync"
	"sync/atomic"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/phoenix"
)

// minDeflate is the smallest payload worth compressing; smaller messages go
// out uncompressed even on permessage-deflate connections (RFC 7692 allows
// it per message).
const minDeflate = 128

// message is one outgoing message, compiled once into the frame(s) its
// recipients need: the plain frame always, the compressed frame the first
// time a permessage-deflate recipient needs it. One message is shared by
// every loop of a fan-out; its frames are never modified.
type message struct {
	plain []byte // Immutable after construction.

	op       codec.OpCode // Immutable after construction.
	once     sync.Once
	deflated []byte // Written once under once.

	// The frame of the few recipients that limited the server's window
	// (Huffman-only: codec.DeflateWindow compresses alike for every window
	// below the full one). Written once under narrowOnce.
	narrowOnce sync.Once
	narrow     []byte
	phx        atomic.Pointer[phxFrames] // the Phoenix members' frames, on first need (phxframes.go)

	// pos is the position of a publication in a channel with history, nil
	// for any other message. Immutable after construction.
	pos *history.Position
}

func newMessage(op codec.OpCode, payload []byte) *message {
	return &message{op: op, plain: codec.Compile(op, payload)}
}

// payload is the message's payload, inside the plain frame.
func (m *message) payload() []byte {
	h, n, _ := codec.ParseHeader(m.plain)
	return m.plain[n : n+int(h.Length)]
}

// frameFor returns the bytes to write to c, a member of topic (for a
// Phoenix member: the push on that topic; see phxframes.go).
func (m *message) frameFor(c *conn, topic string) []byte {
	if c.dialect() != 0 {
		return m.phxFrame(c, topic)
	}
	if !c.deflate() || len(m.plain) < minDeflate {
		return m.plain
	}
	if w := c.dec.DeflateWindow; w != 0 {
		m.narrowOnce.Do(func() {
			m.narrow = codec.CompileDeflatedWindow(m.op, m.payload(), w)
			c.sh.e.stats.Compressions.Add(1)
		})
		return m.narrow
	}
	m.once.Do(func() {
		m.deflated = codec.CompileDeflated(m.op, m.payload())
		c.sh.e.stats.Compressions.Add(1)
	})
	return m.deflated
}

// opOf is the opcode of a binary or text message.
func opOf(binary bool) codec.OpCode {
	if binary {
		return codec.OpBinary
	}
	return codec.OpText
}

// send writes one message to c alone: a raw connection gets payload, a
// Phoenix connection the push of it on topic "phoenix" (what is sent to
// the connection rather than to one of its channels). Loop only.
func (c *conn) send(op codec.OpCode, payload []byte) {
	if c.dialect() != 0 {
		event, p, bin := phoenix.FromRaw(payload, op == codec.OpBinary)
		op, payload = phxEncode(c.dialect(), "", "", phoenix.TopicPhoenix, event, p, bin)
	}
	c.sendPlain(op, payload)
}

// sendPlain writes one frame of payload to c, compressed when c negotiated
// it and the payload is large enough. Loop only.
func (c *conn) sendPlain(op codec.OpCode, payload []byte) {
	if c.deflate() && len(payload) >= minDeflate {
		c.write(codec.CompileDeflatedWindow(op, payload, c.dec.DeflateWindow))
		return
	}
	c.write(codec.Compile(op, payload))
}
