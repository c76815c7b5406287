package codec

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// OpCode is a frame opcode; the values are gobwas/ws's.
type OpCode = ws.OpCode

// Opcodes.
const (
	OpContinuation = ws.OpContinuation
	OpText         = ws.OpText
	OpBinary       = ws.OpBinary
	OpClose        = ws.OpClose
	OpPing         = ws.OpPing
	OpPong         = ws.OpPong
)

const (
	maxControlPayload = 125
	maxHeaderSize     = 14 // 2 + 8 (length) + 4 (mask)
	rsv1              = 0x4
)

// Header is a parsed frame header.
type Header struct {
	Fin    bool
	Rsv    byte // the three reserved bits, RSV1 as 0x4
	Op     OpCode
	Masked bool
	Mask   [4]byte
	Length int64
}

// ParseHeader parses the frame header at the start of b. It returns the number
// of header bytes, or 0 when b does not hold the whole header yet. It rejects
// only what makes the length unreadable; the rules on opcodes, control frames
// and masking are the Decoder's.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] >> 4) & 0x7
	h.Op = OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return h, 0, ErrLength
		}
		h.Length = int64(u)
		n = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// AppendFrame appends one unmasked server frame (header and payload) to dst.
// compressed sets RSV1 (permessage-deflate).
func AppendFrame(dst []byte, op OpCode, fin, compressed bool, payload []byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if compressed {
		b0 |= rsv1 << 4
	}
	switch l := len(payload); {
	case l <= 125:
		dst = append(dst, b0, byte(l))
	case l <= 0xffff:
		dst = append(dst, b0, 126, byte(l>>8), byte(l))
	default:
		dst = append(dst, b0, 127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(dst[len(dst)-8:], uint64(l))
	}
	return append(dst, payload...)
}

// FrameSize is the encoded size of an unmasked frame carrying n payload bytes.
func FrameSize(n int) int {
	switch {
	case n <= 125:
		return 2 + n
	case n <= 0xffff:
		return 4 + n
	}
	return 10 + n
}

// Compile returns a whole final frame in one freshly allocated slice, ready to
// be written to any number of connections. The result must not be modified.
func Compile(op OpCode, payload []byte) []byte {
	return AppendFrame(make([]byte, 0, FrameSize(len(payload))), op, true, false, payload)
}

// CloseFrame returns a compiled close frame.
func CloseFrame(code CloseCode, reason string) []byte {
	return Compile(OpClose, CloseBody(code, reason))
}

// AppendMasked appends one masked client frame to dst; clients and tests use it
// to speak to a server.
func AppendMasked(dst []byte, op OpCode, fin bool, mask [4]byte, payload []byte) []byte {
	start := len(dst)
	dst = AppendFrame(dst, op, fin, false, payload)
	dst[start+1] |= 0x80
	hdr := FrameSize(len(payload)) - len(payload)
	body := start + hdr
	dst = append(dst[:body], append(mask[:], dst[body:]...)...)
	ws.Cipher(dst[body+4:], mask, 0)
	return dst
}
