package wstest

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ripple-rt/ripple/codec"
)

// Raw is a WebSocket client on a bare TCP connection with no goroutine of
// its own: a test can hold thousands of them, or send bytes a client library
// would refuse to send.
type Raw struct {
	net.Conn
	R *bufio.Reader
}

// Request returns an upgrade request head for path.
func Request(path string) string {
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	return "GET " + path + " HTTP/1.1\r\nHost: ripple.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

// DialRaw connects to addr and sends head (Request(path) for an upgrade).
func DialRaw(addr, head string) (*Raw, error) {
	c, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		return nil, err
	}
	r := &Raw{Conn: c, R: bufio.NewReader(c)}
	if head != "" {
		if _, err := io.WriteString(c, head); err != nil {
			c.Close()
			return nil, err
		}
	}
	return r, nil
}

// Upgrade dials addr, upgrades on path and checks the 101.
func Upgrade(addr, path string) (*Raw, error) {
	r, err := DialRaw(addr, Request(path))
	if err != nil {
		return nil, err
	}
	resp, err := r.Response()
	if err != nil {
		r.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		r.Close()
		return nil, fmt.Errorf("upgrade %s: status %d", path, resp.StatusCode)
	}
	return r, nil
}

// Response reads the server's HTTP response head.
func (r *Raw) Response() (*http.Response, error) {
	_ = r.SetReadDeadline(time.Now().Add(Timeout))
	resp, err := http.ReadResponse(r.R, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	return resp, nil
}

// Frame returns one masked client frame.
func Frame(op codec.OpCode, fin bool, payload []byte) []byte {
	return codec.AppendMasked(nil, op, fin, [4]byte{1, 2, 3, 4}, payload)
}

// WriteFrame sends one masked frame.
func (r *Raw) WriteFrame(op codec.OpCode, fin bool, payload []byte) error {
	_ = r.SetWriteDeadline(time.Now().Add(Timeout))
	_, err := r.Write(Frame(op, fin, payload))
	return err
}

// ReadFrame reads one server frame (server frames are never masked).
func (r *Raw) ReadFrame(d time.Duration) (codec.Header, []byte, error) {
	_ = r.SetReadDeadline(time.Now().Add(d))
	var hdr [14]byte
	if _, err := io.ReadFull(r.R, hdr[:2]); err != nil {
		return codec.Header{}, nil, err
	}
	need := 2
	switch hdr[1] & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if _, err := io.ReadFull(r.R, hdr[2:need]); err != nil {
		return codec.Header{}, nil, err
	}
	h, _, err := codec.ParseHeader(hdr[:need])
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(r.R, p)
	return h, p, err
}

// ReadClose reads frames until a close frame and returns its code and reason;
// io.EOF means the server closed the TCP connection without one.
func (r *Raw) ReadClose(d time.Duration) (codec.CloseCode, string, error) {
	for {
		h, p, err := r.ReadFrame(d)
		if err != nil {
			return 0, "", err
		}
		if h.Op == codec.OpClose {
			code, reason, err := codec.ParseCloseBody(p)
			return code, reason, err
		}
	}
}

// ExpectEOF checks that the server closes the TCP connection within d.
func (r *Raw) ExpectEOF(d time.Duration) error {
	_ = r.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, r.R)
	if err == nil {
		return nil // EOF
	}
	if strings.Contains(err.Error(), "reset by peer") {
		return nil
	}
	return err
}
