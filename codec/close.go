package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// CloseCode is a WebSocket close status code (RFC 6455 section 7.4).
type CloseCode uint16

// Close codes the server sends or accepts.
const (
	CloseNormal          CloseCode = 1000
	CloseGoingAway       CloseCode = 1001
	CloseProtocolError   CloseCode = 1002
	CloseUnsupportedData CloseCode = 1003
	CloseNoStatus        CloseCode = 1005 // never on the wire
	CloseAbnormal        CloseCode = 1006 // never on the wire
	CloseInvalidPayload  CloseCode = 1007
	ClosePolicyViolation CloseCode = 1008
	CloseTooBig          CloseCode = 1009
	CloseMandatoryExt    CloseCode = 1010
	CloseInternalError   CloseCode = 1011
	CloseServiceRestart  CloseCode = 1012
	CloseTryAgainLater   CloseCode = 1013
	CloseBadGateway      CloseCode = 1014

	// CloseTokenExpired (application range) closes a connection whose
	// credentials expired and were not refreshed.
	CloseTokenExpired CloseCode = 4001
)

// Valid reports whether c may appear in a close frame sent by a peer.
func (c CloseCode) Valid() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// CloseError is a protocol violation or limit breach: the connection must be
// closed with Code, telling the peer Reason.
type CloseError struct {
	Code   CloseCode
	Reason string
}

func (e *CloseError) Error() string { return fmt.Sprintf("codec: close %d: %s", e.Code, e.Reason) }

// Errors a Decoder returns. Each is a *CloseError, so the engine closes the
// connection with the code it carries.
var (
	ErrUnmasked        = &CloseError{CloseProtocolError, "unmasked client frame"}
	ErrReservedBits    = &CloseError{CloseProtocolError, "reserved bits set"}
	ErrReservedOpcode  = &CloseError{CloseProtocolError, "reserved opcode"}
	ErrControlTooLong  = &CloseError{CloseProtocolError, "control frame over 125 bytes"}
	ErrControlFragment = &CloseError{CloseProtocolError, "fragmented control frame"}
	ErrNoContinuation  = &CloseError{CloseProtocolError, "continuation without a started message"}
	ErrNotContinued    = &CloseError{CloseProtocolError, "new data frame inside a fragmented message"}
	ErrLength          = &CloseError{CloseProtocolError, "invalid payload length"}
	ErrCloseBody       = &CloseError{CloseProtocolError, "invalid close frame"}
	ErrInvalidUTF8     = &CloseError{CloseInvalidPayload, "invalid UTF-8 in text message"}
	ErrTooBig          = &CloseError{CloseTooBig, "message too big"}
)

// AsClose returns the close code and reason err maps to; any error that is not
// a *CloseError maps to 1011.
func AsClose(err error) (CloseCode, string) {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	return CloseInternalError, "internal error"
}

// ParseCloseBody validates a close frame payload and returns its code and
// reason. An empty body means "no status" (1005).
func ParseCloseBody(p []byte) (CloseCode, string, error) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, "", nil
	case len(p) == 1:
		return 0, "", ErrCloseBody
	}
	code := CloseCode(binary.BigEndian.Uint16(p))
	if !code.Valid() || !utf8.Valid(p[2:]) {
		return 0, "", ErrCloseBody
	}
	return code, string(p[2:]), nil
}

// CloseBody builds a close frame payload. The reason is cut to fit a control
// frame (123 bytes), never in the middle of a UTF-8 sequence.
func CloseBody(code CloseCode, reason string) []byte {
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	b := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	copy(b[2:], reason)
	return b
}
