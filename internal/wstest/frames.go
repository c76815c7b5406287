package wstest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/ripple-rt/ripple/codec"
)

// Client frames written by hand, for a Raw client. Every frame is masked
// unless its builder says otherwise; none checks what it builds, so a test
// can send any violation of RFC 6455.

// Frame returns one masked client frame.
func Frame(op codec.OpCode, fin bool, payload []byte) []byte {
	return codec.AppendMasked(nil, op, fin, [4]byte{1, 2, 3, 4}, payload)
}

// Part returns one masked frame of a string payload: a fragment, or with
// fin and a data opcode a whole message.
func Part(op codec.OpCode, fin bool, payload string) []byte {
	return Frame(op, fin, []byte(payload))
}

// Text, Binary, Ping and Pong return one masked final frame.
func Text(s string) []byte   { return Part(codec.OpText, true, s) }
func Binary(s string) []byte { return Part(codec.OpBinary, true, s) }
func Ping(s string) []byte   { return Part(codec.OpPing, true, s) }
func Pong(s string) []byte   { return Part(codec.OpPong, true, s) }

// CloseFrame is a masked close frame with a status code and reason; any
// code can be sent, valid or not.
func CloseFrame(code uint16, reason string) []byte {
	body := binary.BigEndian.AppendUint16(nil, code)
	return Frame(codec.OpClose, true, append(body, reason...))
}

// Fragments cuts s into fragments of n bytes: a first frame of op, then
// continuations, the last with FIN.
func Fragments(op codec.OpCode, s string, n int) []byte {
	var out []byte
	first := true
	for first || len(s) > 0 {
		k := min(n, len(s))
		o := codec.OpContinuation
		if first {
			o = op
		}
		out = append(out, Part(o, k == len(s), s[:k])...)
		s, first = s[k:], false
	}
	return out
}

// Header is a client frame header announcing n payload bytes, with a zero
// mask, and no payload: the start of a frame that may never finish.
func Header(op codec.OpCode, fin bool, n uint64) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	var h []byte
	switch {
	case n <= 125:
		h = []byte{b0, 0x80 | byte(n)}
	case n <= 0xffff:
		h = binary.BigEndian.AppendUint16([]byte{b0, 0x80 | 126}, uint16(n))
	default:
		h = binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, n)
	}
	return append(h, 0, 0, 0, 0)
}

// WithRSV returns a copy of frame f with reserved bits set (RSV1 = 4,
// RSV2 = 2, RSV3 = 1).
func WithRSV(f []byte, rsv byte) []byte {
	f = bytes.Clone(f)
	f[0] |= rsv << 4
	return f
}

// Unmasked is a final frame as a server would send it: no mask.
func Unmasked(op codec.OpCode, payload string) []byte {
	return codec.AppendFrame(nil, op, true, false, []byte(payload))
}

// Cat concatenates frames, to send them in one write.
func Cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Stars is a text payload of n bytes ('*').
func Stars(n int) string { return strings.Repeat("*", n) }

// Pattern is a binary payload of n bytes that are not all alike.
func Pattern(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return string(b)
}

// OpName names an opcode for messages.
func OpName(op codec.OpCode) string {
	switch op {
	case codec.OpText:
		return "text"
	case codec.OpBinary:
		return "binary"
	case codec.OpPing:
		return "ping"
	case codec.OpPong:
		return "pong"
	case codec.OpClose:
		return "close"
	case codec.OpContinuation:
		return "continuation"
	}
	return fmt.Sprintf("opcode %#x", byte(op))
}

// Trunc shortens a payload for messages.
func Trunc(p []byte) string {
	if len(p) > 40 {
		return fmt.Sprintf("%s… (%d bytes)", p[:40], len(p))
	}
	return string(p)
}
