package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// DefaultMaxHeadSize bounds an HTTP request head (request line and headers).
const DefaultMaxHeadSize = 8 << 10

var headEnd = []byte("\r\n\r\n")

// HeadEnd returns the length of the HTTP request head at the start of b,
// through its blank line, or 0 when the head is not complete yet. It is cheap
// to call again as bytes trickle in.
func HeadEnd(b []byte) int {
	if i := bytes.Index(b, headEnd); i >= 0 {
		return i + len(headEnd)
	}
	return 0
}

// IsUpgrade reports whether a complete request head asks for a WebSocket
// upgrade, i.e. carries an Upgrade header naming "websocket". Heads that do
// not are plain HTTP requests.
func IsUpgrade(head []byte) bool {
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Upgrade")) {
			return containsWebsocket(v)
		}
	}
	return false
}

// containsWebsocket reports whether v contains "websocket" in any case, as
// bytes.Contains(bytes.ToLower(v), "websocket") does, without a copy for
// an ASCII v.
func containsWebsocket(v []byte) bool {
	const word = "websocket"
	for _, b := range v {
		if b >= utf8.RuneSelf {
			return bytes.Contains(bytes.ToLower(v), []byte(word))
		}
	}
	for i := 0; i+len(word) <= len(v); i++ {
		if bytes.EqualFold(v[i:i+len(word)], []byte(word)) {
			return true
		}
	}
	return false
}

// Request is what a WebSocket upgrade request said, kept for the life of the
// connection. Header holds only the headers that are not part of the
// WebSocket handshake itself (no Upgrade, Connection, Sec-WebSocket-*), and
// is nil when there were none, so a bare client costs nothing.
type Request struct {
	Path     string
	RawQuery string
	Host     string
	Header   http.Header
	Remote   net.Addr // the client's address
}

// RemoteAddr is the client's address as "host:port".
func (r *Request) RemoteAddr() string {
	if r == nil || r.Remote == nil {
		return ""
	}
	return r.Remote.String()
}

// Query parses the raw query string.
func (r *Request) Query() url.Values {
	if r == nil {
		return url.Values{}
	}
	q, _ := url.ParseQuery(r.RawQuery)
	return q
}

// Cookie returns the named cookie sent with the upgrade request.
func (r *Request) Cookie(name string) (*http.Cookie, error) {
	if r == nil || r.Header == nil {
		return nil, http.ErrNoCookie
	}
	return (&http.Request{Header: r.Header}).Cookie(name)
}

// Reject is an upgrade refusal: the client gets Status with Reason as body.
type Reject struct {
	Status int
	Reason string
	Header http.Header // extra response headers (e.g. WWW-Authenticate)
}

func (r *Reject) Error() string { return "codec: upgrade rejected: " + r.Reason }

// Upgrade refusals decided before gobwas/ws parses the request.
var (
	ErrBadMethod = errors.New("codec: a WebSocket upgrade must be a GET")
	ErrBadKey    = errors.New("codec: Sec-WebSocket-Key must be 16 bytes in base64")
)

// precheck applies the rules gobwas/ws leaves to the server: the method is
// GET (answered 400 with "Allow: GET") and Sec-WebSocket-Key is the base64
// of 16 bytes, not merely 24 characters (RFC 6455 section 4.2.1).
func precheck(head []byte) error {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if !bytes.HasPrefix(line, []byte("GET ")) {
		return ErrBadMethod
	}
	for l := range bytes.SplitSeq(rest, []byte("\r\n")) {
		k, v, ok := bytes.Cut(l, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte("Sec-WebSocket-Key")) {
			continue
		}
		v = bytes.TrimSpace(v)
		if len(v) != 24 { // base64 of 16 bytes; also keeps Decode within key
			return ErrBadKey
		}
		var key [18]byte
		n, err := base64.StdEncoding.Decode(key[:], v)
		if err != nil || n != 16 {
			return ErrBadKey
		}
	}
	return nil
}

// ErrHeadTooLarge is returned when a request head does not fit the limit.
var ErrHeadTooLarge = errors.New("codec: request head too large")

// Accept is what an accepted upgrade agreed on.
type Accept struct {
	Header  http.Header // extra headers sent with the 101
	Deflate bool        // permessage-deflate, no context takeover either way
	// DeflateWindow is the server's window, in bits (8–14), when the
	// client limited it below DeflateFullWindow; 0 otherwise. Compress
	// for such a client with DeflateWindow or CompileDeflatedWindow.
	DeflateWindow uint8
}

// UpgradeConfig drives Upgrade. The zero value accepts every well-formed
// request without extensions.
type UpgradeConfig struct {
	// Check runs after the head is parsed and before the 101 is written. The
	// header it returns is added to the 101; returning a *Reject refuses the
	// upgrade with its status.
	Check func(*Request) (http.Header, error)
	// Deflate accepts permessage-deflate when the client offers it.
	Deflate bool
	// Request, when set, is filled in and returned instead of a new
	// Request, for a caller that keeps one inside its own connection.
	Request *Request
}

// Upgrade answers the complete request head with the 101 response (or an
// error response) appended to out. It returns the parsed request and what was
// agreed. A non-nil error means the response
// written is a refusal and the connection must be closed after it is sent.
func Upgrade(head []byte, out *bytes.Buffer, cfg UpgradeConfig) (*Request, Accept, error) {
	var up Upgrader
	return up.Upgrade(head, out, cfg)
}

// An Upgrader answers upgrade requests as Upgrade does, keeping its
// callbacks and readers from one request to the next: a request then costs
// only the strings of its Request (and gobwas/ws's own few bytes), not a set
// of closures. The request line's path and query and the Host are shared
// with the previous request's when they are the same, as they mostly are,
// so that many connections' Requests hold one copy. It is not safe for
// concurrent use: keep one per goroutine (an event loop has one). The zero
// value is ready to use.
type Upgrader struct {
	// Set for the duration of one Upgrade call, read by the callbacks.
	cfg UpgradeConfig
	req *Request
	acc Accept

	u    ws.Upgrader // callbacks bound to this Upgrader; set on first use
	head bytes.Reader
	rw   readWriter

	// The previous request's, shared with the next one where equal.
	uri, path, query, host string
}

// readWriter reads the request head and collects the response.
type readWriter struct {
	io.Reader
	io.Writer
}

// Upgrade is codec.Upgrade, with up's reused state.
func (up *Upgrader) Upgrade(head []byte, out *bytes.Buffer, cfg UpgradeConfig) (*Request, Accept, error) {
	if err := precheck(head); err != nil {
		out.WriteString("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n")
		if err == ErrBadMethod {
			out.WriteString("Allow: GET\r\n")
		}
		out.WriteString("Content-Length: " + strconv.Itoa(len(err.Error())) + "\r\nConnection: close\r\n\r\n")
		out.WriteString(err.Error())
		return nil, Accept{}, err
	}
	req := cfg.Request
	if req == nil {
		req = &Request{}
	}
	if up.u.OnRequest == nil {
		up.u = ws.Upgrader{
			OnRequest:       up.onRequest,
			OnHost:          up.onHost,
			OnHeader:        up.onHeader,
			Negotiate:       up.negotiate,
			OnBeforeUpgrade: up.onBeforeUpgrade,
		}
	}
	up.cfg, up.req, up.acc = cfg, req, Accept{}
	up.head.Reset(head)
	up.rw = readWriter{&up.head, out}
	_, err := up.u.Upgrade(&up.rw)
	acc := up.acc
	// Keep nothing of this request.
	up.cfg, up.req, up.acc, up.rw = UpgradeConfig{}, nil, Accept{}, readWriter{}
	up.head.Reset(nil)
	return req, acc, err
}

func (up *Upgrader) onRequest(uri []byte) error {
	if string(uri) != up.uri || up.uri == "" {
		up.uri = string(uri)
		p, q, _ := strings.Cut(up.uri, "?")
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		up.path, up.query = p, q
	}
	up.req.Path, up.req.RawQuery = up.path, up.query
	return nil
}

func (up *Upgrader) onHost(host []byte) error {
	if string(host) != up.host || up.host == "" {
		up.host = string(host)
	}
	up.req.Host = up.host
	return nil
}

func (up *Upgrader) onHeader(key, value []byte) error {
	req := up.req
	if req.Header == nil {
		req.Header = make(http.Header, 4)
	}
	k := textproto.CanonicalMIMEHeaderKey(string(key))
	req.Header[k] = append(req.Header[k], string(value))
	return nil
}

func (up *Upgrader) negotiate(opt httphead.Option) (httphead.Option, error) {
	if !up.cfg.Deflate || up.acc.Deflate {
		return httphead.Option{}, nil
	}
	resp, window, ok := negotiateDeflate(opt)
	up.acc.Deflate, up.acc.DeflateWindow = ok, window
	return resp, nil
}

func (up *Upgrader) onBeforeUpgrade() (ws.HandshakeHeader, error) {
	if up.cfg.Check != nil {
		h, err := up.cfg.Check(up.req)
		if err != nil {
			var rej *Reject
			if errors.As(err, &rej) {
				opts := []ws.RejectOption{ws.RejectionStatus(rej.Status), ws.RejectionReason(rej.Reason)}
				if rej.Header != nil {
					opts = append(opts, ws.RejectionHeader(ws.HandshakeHeaderHTTP(rej.Header)))
				}
				return nil, ws.RejectConnectionError(opts...)
			}
			return nil, err
		}
		up.acc.Header = h
	}
	if up.acc.Header != nil {
		return ws.HandshakeHeaderHTTP(up.acc.Header), nil
	}
	return ws.HandshakeHeaderString(""), nil
}
