package codec

import (
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// DefaultMaxMessageSize is the message size limit when none is configured.
const DefaultMaxMessageSize = 64 << 10

// Kind says what a decoded unit is.
type Kind uint8

// Kinds of decoded units.
const (
	KindNone   Kind = iota // more bytes are needed
	KindText               // a complete text message
	KindBinary             // a complete binary message
	KindPing
	KindPong
	KindClose
)

// Message is one unit the Decoder produced.
//
// Payload aliases either the caller's input (an unfragmented message or a
// control frame, unmasked in place) or the Decoder's reassembly buffer. It is
// valid until the next call to Decode; copy it to keep it.
type Message struct {
	Kind    Kind
	Payload []byte
	// Compressed reports a permessage-deflate message (RSV1 on its first
	// frame); Payload is still compressed and UTF-8 is not yet checked.
	Compressed bool
	Code       CloseCode // KindClose only
	Reason     string    // KindClose only
}

// Decoder turns client frames into messages: it unmasks, reassembles
// fragments (answering interleaved control frames on the way), checks
// UTF-8 of text, and enforces the message size limit before buffering.
//
// Text is checked as it arrives: an invalid byte fails at once, in a
// fragment before the message ends and in a frame before the frame ends
// (the bytes of a frame still arriving are read, not consumed: each Decode
// checks only what came since the last one). Compressed text is checked
// once inflated, by the caller.
//
// The zero value is ready to use with DefaultMaxMessageSize. A Decoder belongs
// to one connection and is not safe for concurrent use. It is 16 bytes: the
// state of a message that arrives in parts lives apart, allocated by its
// first fragment or by the first text frame that arrives in pieces, since
// most connections never send one.
type Decoder struct {
	frag *fragments // the fragmented message in progress; nil until the first fragment

	// MaxMessageSize bounds a message's payload (after reassembly). Zero means
	// DefaultMaxMessageSize. Set before the first Decode.
	MaxMessageSize int32

	// Deflate allows RSV1 on the first frame of a data message (negotiated
	// permessage-deflate). Set before the first Decode.
	Deflate bool

	// DeflateWindow is Accept.DeflateWindow, the window the client allows
	// the server's compressor. The Decoder does not use it: it is kept
	// here, with Deflate, for the connection's compressor, at no cost to
	// the Decoder's size.
	DeflateWindow uint8
}

// fragments is a fragmented message being reassembled, and the buffer kept
// for the next one, plus how far the text frame still arriving is checked.
type fragments struct {
	buf     []byte // fragments received so far
	checked int32  // buf[:checked] is known-valid UTF-8
	// partial is how many payload bytes of the text frame still arriving
	// are known to be valid UTF-8 (after buf[checked:], the incomplete
	// rune the earlier fragments ended with) and end on a rune boundary;
	// 0 once the frame is whole.
	partial    int32
	op         OpCode // opcode of the message in progress; 0 = none
	compressed bool   // the message in progress is compressed
}

// op is the opcode of the fragmented message in progress, 0 for none.
func (d *Decoder) op() OpCode {
	if d.frag == nil {
		return 0
	}
	return d.frag.op
}

func (d *Decoder) limit() int64 {
	if d.MaxMessageSize > 0 {
		return int64(d.MaxMessageSize)
	}
	return DefaultMaxMessageSize
}

// Decode consumes whole frames from the front of p and returns the first
// complete unit together with the number of bytes consumed. With Kind None and
// n > 0, fragments were absorbed and p[n:] holds an incomplete frame; with
// n == 0 nothing was consumed and more bytes are needed.
//
// Decode unmasks payloads in place in p. A returned error is a *CloseError:
// the connection must be closed with its code.
func (d *Decoder) Decode(p []byte) (m Message, n int, err error) {
	for {
		h, hn, err := ParseHeader(p[n:])
		if err != nil {
			return m, n, err
		}
		if hn == 0 {
			return m, n, nil
		}
		if err := d.check(h); err != nil {
			return m, n, err
		}
		end := n + hn + int(h.Length)
		if end > len(p) {
			// Wait for the rest of the frame, failing now if its text
			// so far is not UTF-8.
			if d.text(h) {
				return m, n, d.checkPartial(h, p[n+hn:])
			}
			return m, n, nil
		}
		payload := p[n+hn : end]
		ws.Cipher(payload, h.Mask, 0)
		n = end
		var skip int // payload[:skip] was checked while the frame arrived
		if d.frag != nil {
			skip, d.frag.partial = int(d.frag.partial), 0
		}

		switch h.Op {
		case OpPing:
			return Message{Kind: KindPing, Payload: payload}, n, nil
		case OpPong:
			return Message{Kind: KindPong, Payload: payload}, n, nil
		case OpClose:
			code, reason, err := ParseCloseBody(payload)
			if err != nil {
				return m, n, err
			}
			return Message{Kind: KindClose, Code: code, Reason: reason, Payload: payload}, n, nil
		}

		compressed := h.Rsv&rsv1 != 0
		if h.Op != OpContinuation && h.Fin {
			// The common case: a whole message in one frame, no copy.
			if h.Op == OpText && !compressed && !utf8.Valid(payload[skip:]) {
				return m, n, ErrInvalidUTF8
			}
			return Message{Kind: kindOf(h.Op), Payload: payload, Compressed: compressed}, n, nil
		}
		f := d.frag
		if h.Op != OpContinuation {
			if f == nil {
				f = &fragments{}
				d.frag = f
			}
			f.op, f.compressed = h.Op, compressed
		}
		if skip > 0 {
			// The earlier fragments' incomplete rune and payload[:skip]
			// were checked together.
			f.checked = int32(len(f.buf) + skip)
		}
		f.buf = append(f.buf, payload...)
		if f.op == OpText && !f.compressed {
			ok := false
			if h.Fin {
				ok = utf8.Valid(f.buf[f.checked:])
			} else {
				var c int
				c, ok = validPrefix(f.buf[f.checked:])
				f.checked += int32(c)
			}
			if !ok {
				return m, n, ErrInvalidUTF8
			}
		}
		if h.Fin {
			m = Message{Kind: kindOf(f.op), Payload: f.buf, Compressed: f.compressed}
			d.reset()
			return m, n, nil
		}
	}
}

// text reports whether the frame of h, which check accepted, carries text
// the Decoder validates: an uncompressed text frame or a continuation of an
// uncompressed text message.
func (d *Decoder) text(h Header) bool {
	switch h.Op {
	case OpText:
		return h.Rsv == 0
	case OpContinuation:
		return d.frag.op == OpText && !d.frag.compressed
	}
	return false
}

// partialChunk is how many payload bytes checkPartial unmasks at a time,
// into a copy: the frame's bytes stay masked in the input until the frame
// is whole. (Larger chunks cost more to clear on every call than they
// save: BenchmarkDecodeArriving.)
const partialChunk = 2 << 10

// checkPartial checks the UTF-8 of a text frame whose payload has arrived
// only in part (avail), from where the previous call stopped. It returns
// ErrInvalidUTF8 as soon as the bytes so far cannot begin valid text. The
// incomplete rune at the end of what is checked is read again next time
// (at most 3 bytes).
func (d *Decoder) checkPartial(h Header, avail []byte) error {
	f := d.frag
	if f == nil {
		f = &fragments{}
		d.frag = f
	}
	var chunk [partialChunk]byte
	from := int(f.partial) // avail[:from] is checked
	for read := from; read < len(avail); {
		k := 0
		if from == 0 && h.Op == OpContinuation {
			k = copy(chunk[:], f.buf[f.checked:]) // at most 3 bytes
		}
		m := copy(chunk[k:], avail[from:])
		ws.Cipher(chunk[k:k+m], h.Mask, from)
		c, ok := validPrefix(chunk[:k+m])
		if !ok {
			f.partial = 0
			return ErrInvalidUTF8
		}
		read = from + m
		// c <= k only when the chunk is one incomplete rune, begun by the
		// earlier fragments: nothing of this frame is complete yet.
		if c > k {
			from += c - k
		}
	}
	f.partial = int32(from)
	return nil
}

// check applies RFC 6455's rules to a frame header before its payload is read.
func (d *Decoder) check(h Header) error {
	if !h.Masked {
		return ErrUnmasked
	}
	switch h.Op {
	case OpContinuation:
		if d.op() == 0 {
			return ErrNoContinuation
		}
		if h.Rsv != 0 {
			return ErrReservedBits
		}
	case OpText, OpBinary:
		if d.op() != 0 {
			return ErrNotContinued
		}
		if h.Rsv != 0 && (h.Rsv != rsv1 || !d.Deflate) {
			return ErrReservedBits
		}
	case OpClose, OpPing, OpPong:
		if h.Rsv != 0 {
			return ErrReservedBits
		}
		if !h.Fin {
			return ErrControlFragment
		}
		if h.Length > maxControlPayload {
			return ErrControlTooLong
		}
		return nil
	default:
		return ErrReservedOpcode
	}
	if int64(d.pending())+h.Length > d.limit() {
		return ErrTooBig
	}
	return nil
}

// reset forgets the message in progress, keeping a small buffer for reuse and
// dropping a large one so that an idle connection holds no big allocation.
func (d *Decoder) reset() {
	f := d.frag
	if cap(f.buf) > 4<<10 {
		d.frag = nil
		return
	}
	f.op, f.compressed, f.checked = 0, false, 0
	f.buf = f.buf[:0]
}

// Release forgets any message in progress and drops the reassembly buffer,
// keeping MaxMessageSize, Deflate and DeflateWindow: what a closed
// connection keeps.
func (d *Decoder) Release() { d.frag = nil }

// pending is the size of the fragmented message in progress so far.
func (d *Decoder) pending() int {
	if d.frag == nil {
		return 0
	}
	return len(d.frag.buf)
}

// Buffered is the number of reassembly bytes the Decoder holds.
func (d *Decoder) Buffered() int {
	if d.frag == nil {
		return 0
	}
	return cap(d.frag.buf)
}

func kindOf(op OpCode) Kind {
	if op == OpText {
		return KindText
	}
	return KindBinary
}
