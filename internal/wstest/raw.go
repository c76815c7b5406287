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
	"testing"
	"time"

	"github.com/ripple-rt/ripple/codec"
)

// Raw is a WebSocket client on a bare TCP connection with no goroutine of
// its own: a test can hold thousands of them, or send bytes a client library
// would refuse to send (see frames.go for the frame builders).
type Raw struct {
	net.Conn
	R *bufio.Reader
}

// Key returns a fresh random Sec-WebSocket-Key value.
func Key() string {
	k := make([]byte, 16)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// Head builds a request head from a request line and header lines.
func Head(line string, headers ...string) string {
	return line + "\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\n"
}

// Request returns an upgrade request head for path.
func Request(path string) string {
	return Head("GET "+path+" HTTP/1.1", "Host: ripple.test", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: "+Key(), "Sec-WebSocket-Version: 13")
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
	c, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		return nil, err
	}
	return UpgradeConn(c, path)
}

// UpgradeConn upgrades c, a connection the caller dialled (with its own
// socket options), on path and checks the 101; it closes c on failure.
func UpgradeConn(c net.Conn, path string) (*Raw, error) {
	r := &Raw{Conn: c, R: bufio.NewReader(c)}
	_ = c.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := io.WriteString(c, Request(path)); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := r.Response()
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
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

// ExpectCloseThenEOF reads until a close frame with code want, then checks
// that the server closes the TCP connection; it fails the test otherwise.
func ExpectCloseThenEOF(t testing.TB, r *Raw, want codec.CloseCode) {
	t.Helper()
	code, reason, err := r.ReadClose(Timeout)
	if err != nil || code != want {
		t.Fatalf("close = %d %q (%v), want %d", code, reason, err, want)
	}
	if err := r.ExpectEOF(Timeout); err != nil {
		t.Fatalf("no EOF after close %d: %v", want, err)
	}
}

// ExpectStatus reads an HTTP response with status want, then EOF; it fails
// the test otherwise.
func ExpectStatus(t testing.TB, r *Raw, want int) *http.Response {
	t.Helper()
	resp, err := r.Response()
	if err != nil {
		t.Fatalf("want status %d, got %v", want, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
	if err := r.ExpectEOF(Timeout); err != nil {
		t.Fatalf("no EOF after %d: %v", want, err)
	}
	return resp
}
