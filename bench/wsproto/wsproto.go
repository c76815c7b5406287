package wsproto

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/gobwas/ws"
)

// Opcode is a WebSocket frame opcode.
type Opcode byte

// Opcodes of RFC 6455 section 5.2.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode.
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// Sentinel errors. Every parse error wraps one of them.
var (
	ErrProtocol      = errors.New("wsproto: protocol error")
	ErrTooLarge      = errors.New("wsproto: frame too large")
	ErrHeaderTooLong = errors.New("wsproto: handshake response too long")
	ErrBadHandshake  = errors.New("wsproto: bad handshake response")
)

// StatusError is returned by ParseResponse when the server answered the upgrade
// with a status other than 101.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return "wsproto: upgrade answered with HTTP " + strconv.Itoa(e.Code)
}

// MaxResponseHeader bounds the size of the 101 response header.
const MaxResponseHeader = 8 << 10

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// KeyLen is the length of an encoded Sec-WebSocket-Key.
const KeyLen = 24

// MakeKey encodes a 16-byte nonce as a Sec-WebSocket-Key.
func MakeKey(nonce [16]byte) (key [KeyLen]byte) {
	base64.StdEncoding.Encode(key[:], nonce[:])
	return key
}

// AcceptKey computes the Sec-WebSocket-Accept value expected for key.
func AcceptKey(key []byte) string {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(acceptGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// AppendRequest appends an HTTP/1.1 upgrade request for path (which may carry a
// query) on host to dst.
func AppendRequest(dst []byte, host, path string, key []byte) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	dst = append(dst, "\r\nSec-WebSocket-Version: 13\r\n\r\n"...)
	return dst
}

// ParseResponse looks for a whole response header at the start of b. It returns
// n == 0 and a nil error when more bytes are needed, n > 0 (the header length,
// terminator included) when the upgrade succeeded, and an error otherwise:
// *StatusError for a non-101 status, ErrBadHandshake for a 101 with wrong headers,
// ErrHeaderTooLong when no header end is found within MaxResponseHeader bytes.
func ParseResponse(b []byte, key []byte) (n int, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) >= MaxResponseHeader {
			return 0, ErrHeaderTooLong
		}
		return 0, nil
	}
	n = end + 4
	head := b[:end]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	// Status line: HTTP/1.1 101 Switching Protocols
	if !bytes.HasPrefix(line, []byte("HTTP/1.")) || len(line) < 12 || line[8] != ' ' {
		return 0, fmt.Errorf("%w: status line %q", ErrBadHandshake, truncate(line))
	}
	code, cerr := strconv.Atoi(string(line[9:12]))
	if cerr != nil {
		return 0, fmt.Errorf("%w: status line %q", ErrBadHandshake, truncate(line))
	}
	if code != 101 {
		return 0, &StatusError{Code: code}
	}
	var upgrade, connection, accept bool
	want := AcceptKey(key)
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Upgrade")):
			upgrade = bytes.EqualFold(value, []byte("websocket"))
		case bytes.EqualFold(name, []byte("Connection")):
			connection = containsTokenFold(value, "upgrade")
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			accept = string(value) == want
		}
	}
	if !upgrade || !connection || !accept {
		return 0, fmt.Errorf("%w: upgrade=%v connection=%v accept=%v", ErrBadHandshake, upgrade, connection, accept)
	}
	return n, nil
}

func containsTokenFold(v []byte, tok string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(tok)) {
			return true
		}
	}
	return false
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// AppendFrame appends one masked client frame to dst. The payload is copied and
// masked in dst; p itself is not modified.
func AppendFrame(dst []byte, fin bool, op Opcode, p []byte, mask [4]byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	n := len(p)
	switch {
	case n <= 125:
		dst = append(dst, b0, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, p...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// AppendClose appends a masked close frame with code and reason to dst.
func AppendClose(dst []byte, code uint16, reason string, mask [4]byte) []byte {
	var p [125]byte
	binary.BigEndian.PutUint16(p[:2], code)
	n := 2 + copy(p[2:], reason)
	return AppendFrame(dst, true, OpClose, p[:n], mask)
}

// Frame is one parsed server frame. Payload aliases the parsed buffer.
type Frame struct {
	Fin     bool
	Op      Opcode
	Payload []byte
}

// ParseFrame parses the frame at the start of b. It returns n == 0 and a nil
// error when b does not yet hold the whole frame. maxPayload bounds the payload
// length (0 means no bound). A masked server frame is unmasked in place (servers
// must not mask, but tolerating it costs nothing); reserved bits, unknown opcodes
// and oversized or fragmented control frames are ErrProtocol.
func ParseFrame(b []byte, maxPayload int) (f Frame, n int, err error) {
	if len(b) < 2 {
		return f, 0, nil
	}
	b0, b1 := b[0], b[1]
	if b0&0x70 != 0 {
		return f, 0, fmt.Errorf("%w: reserved bits set", ErrProtocol)
	}
	f.Fin = b0&0x80 != 0
	f.Op = Opcode(b0 & 0x0F)
	switch f.Op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return f, 0, fmt.Errorf("%w: opcode %#x", ErrProtocol, byte(f.Op))
	}
	masked := b1&0x80 != 0
	length := uint64(b1 & 0x7F)
	hdr := 2
	switch length {
	case 126:
		if len(b) < 4 {
			return f, 0, nil
		}
		length = uint64(binary.BigEndian.Uint16(b[2:4]))
		hdr = 4
	case 127:
		if len(b) < 10 {
			return f, 0, nil
		}
		length = binary.BigEndian.Uint64(b[2:10])
		if length>>63 != 0 {
			return f, 0, fmt.Errorf("%w: length %d", ErrProtocol, length)
		}
		hdr = 10
	}
	if f.Op.IsControl() && (length > 125 || !f.Fin) {
		return f, 0, fmt.Errorf("%w: control frame length %d fin %v", ErrProtocol, length, f.Fin)
	}
	if maxPayload > 0 && length > uint64(maxPayload) {
		return f, 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, length)
	}
	var mask [4]byte
	if masked {
		if len(b) < hdr+4 {
			return f, 0, nil
		}
		copy(mask[:], b[hdr:hdr+4])
		hdr += 4
	}
	if uint64(len(b)-hdr) < length {
		return f, 0, nil
	}
	end := hdr + int(length)
	f.Payload = b[hdr:end:end]
	if masked {
		ws.Cipher(f.Payload, mask, 0)
	}
	return f, end, nil
}

// CloseCode extracts the status code of a close frame payload (1005 when absent).
func CloseCode(p []byte) uint16 {
	if len(p) < 2 {
		return 1005
	}
	return binary.BigEndian.Uint16(p)
}
