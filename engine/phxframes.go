package engine

import (
	"sync"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/phoenix"
)

// phxFrames holds the frames a message's Phoenix members get: one per
// dialect and topic (a broadcast to one channel reaching V2 WebSocket
// members is one frame for all of them), each made by the first member
// that needs it, on whichever loop that is. The message's raw payload is
// mapped to an event and payload once (phoenix.FromRaw). A push to every
// member has null refs, so the frame does not depend on the recipient.
type phxFrames struct {
	mu sync.Mutex
	// Guarded by mu.
	mapped   bool
	event    string
	payload  []byte // aliases the message's plain frame, or is new
	binary   bool
	variants []phxVariant
}

// phxVariant is the frame of one dialect and topic. Its slices are never
// modified once made.
type phxVariant struct {
	d        dialect
	topic    string
	op       codec.OpCode
	payload  []byte // the frame's payload, for deflating
	plain    []byte
	deflated []byte // made on first use
}

// phxFrame returns the frame for c, a Phoenix member of topic.
func (m *message) phxFrame(c *conn, topic string) []byte {
	f := m.phx.Load()
	if f == nil {
		m.phx.CompareAndSwap(nil, &phxFrames{})
		f = m.phx.Load()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.mapped {
		f.event, f.payload, f.binary = phoenix.FromRaw(m.payload(), m.op == codec.OpBinary)
		f.mapped = true
	}
	var v *phxVariant
	for i := range f.variants {
		if f.variants[i].d == c.dialect() && f.variants[i].topic == topic {
			v = &f.variants[i]
			break
		}
	}
	if v == nil {
		ref := ""
		if m.pos != nil {
			ref = m.pos.String()
		}
		op, p := phxEncode(c.dialect(), "", ref, topic, f.event, f.payload, f.binary)
		f.variants = append(f.variants, phxVariant{d: c.dialect(), topic: topic, op: op, payload: p, plain: codec.Compile(op, p)})
		v = &f.variants[len(f.variants)-1]
	}
	if !c.deflate() || len(v.plain) < minDeflate {
		return v.plain
	}
	if v.deflated == nil {
		v.deflated = codec.CompileDeflated(v.op, v.payload)
		c.sh.e.stats.Compressions.Add(1)
	}
	return v.deflated
}
