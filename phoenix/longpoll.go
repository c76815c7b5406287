package phoenix

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The long-poll transport, as phoenix.js's LongPoll speaks it (its
// longPollFallbackMs switches to it when WebSockets fail):
//
//   - GET without a known session token opens a session: the answer is
//     {"status":410,"token":T,"messages":[]} (410 is how Phoenix says "here
//     is a new session");
//   - GET with token T (the X-Phoenix-Longpoll-Token header, or the last
//     token query parameter of older clients) waits up to Window for the
//     session's messages: {"status":200,"token":T,"messages":[...]} with
//     each message a serialized frame as a JSON string, or
//     {"status":204,"token":T} when none came;
//   - POST with token T delivers the client's messages: one per line of an
//     application/x-ndjson body (a line starting with '[' is text, any other
//     base64 of a binary frame; at most MaxBatch lines), or the whole body
//     as one text message otherwise. The answer is {"status":200};
//   - a token that names no session gets {"status":410} (phoenix.js then
//     reconnects and rejoins its channels), a refused session
//     {"status":403} (phoenix.js stops).
//
// Every answer is HTTP 200 with a JSON body and
// Access-Control-Allow-Origin: *, and OPTIONS answers CORS preflights, as
// Phoenix does: a page on another origin can use the transport, and the
// server's own checks (Sessions.Open) still apply.

// Sessions is what the long-poll transport needs from the server: it owns
// the sessions, their channels and their queued messages.
type Sessions interface {
	// Open starts a session for r and returns its token. ErrForbidden
	// refuses it (403, the client gives up); any other error is a 500
	// (the client retries).
	Open(r *http.Request) (token string, err error)
	// Poll waits until session token has messages, and takes them, or
	// until ctx ends (no messages, no error). ErrGone: no such session.
	Poll(ctx context.Context, token string) ([][]byte, error)
	// Publish hands the client's messages to session token, in order.
	// ErrGone: no such session.
	Publish(token string, msgs []Frame) error
}

// Frame is one message of a POST body.
type Frame struct {
	Data   []byte
	Binary bool
}

// Errors of Sessions.
var (
	ErrGone      = errors.New("phoenix: no such long-poll session")
	ErrForbidden = errors.New("phoenix: long-poll session refused")
)

// Defaults of LongPoll's zero fields.
const (
	DefaultWindow   = 10 * time.Second
	DefaultMaxBatch = 100
	DefaultMaxBody  = 8 << 20
)

// TokenHeader carries the session token of phoenix.js 1.8 and later.
const TokenHeader = "X-Phoenix-Longpoll-Token"

// LongPoll serves the long-poll transport at one path. Its zero fields take
// the defaults above; Sessions is required.
type LongPoll struct {
	Sessions Sessions
	// Window is how long a poll waits for messages. Zero means
	// DefaultWindow.
	Window time.Duration
	// MaxBody bounds a POST body; larger gets 413. Zero means DefaultMaxBody.
	MaxBody int64
	// MaxBatch bounds the messages of one POST (the rest are dropped, as
	// Phoenix drops them). Zero means DefaultMaxBatch.
	MaxBatch int
}

// ServeHTTP answers one request of the transport.
func (lp *LongPoll) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Headers", strings.Join(r.Header.Values("Access-Control-Request-Headers"), ", "))
		h.Set("Access-Control-Allow-Methods", "get, post, options")
		h.Set("Access-Control-Max-Age", "3600")
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		lp.get(w, r)
	case http.MethodPost:
		lp.post(w, r)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

func (lp *LongPoll) get(w http.ResponseWriter, r *http.Request) {
	if token := sessionToken(r); token != "" {
		window := lp.Window
		if window <= 0 {
			window = DefaultWindow
		}
		ctx, cancel := context.WithTimeout(r.Context(), window)
		msgs, err := lp.Sessions.Poll(ctx, token)
		cancel()
		switch {
		case err == nil && len(msgs) > 0:
			writeStatus(w, http.StatusOK, token, msgs, true)
			return
		case err == nil:
			writeStatus(w, http.StatusNoContent, token, nil, false)
			return
		case !errors.Is(err, ErrGone):
			writeStatus(w, http.StatusInternalServerError, "", nil, false)
			return
		}
		// An unknown token: a new session, as Phoenix does (a client that
		// had one sees 410 and reconnects).
	}
	token, err := lp.Sessions.Open(r)
	switch {
	case errors.Is(err, ErrForbidden):
		writeStatus(w, http.StatusForbidden, "", nil, false)
	case err != nil:
		writeStatus(w, http.StatusInternalServerError, "", nil, false)
	default:
		writeStatus(w, http.StatusGone, token, nil, true)
	}
}

func (lp *LongPoll) post(w http.ResponseWriter, r *http.Request) {
	token := sessionToken(r)
	if token == "" {
		writeStatus(w, http.StatusGone, "", nil, false)
		return
	}
	max := lp.MaxBody
	if max <= 0 {
		max = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeStatus(w, http.StatusRequestEntityTooLarge, "", nil, false)
			return
		}
		writeStatus(w, http.StatusBadRequest, "", nil, false)
		return
	}
	frames, ok := lp.split(r.Header.Get("Content-Type"), body)
	if !ok {
		writeStatus(w, http.StatusBadRequest, "", nil, false)
		return
	}
	switch err := lp.Sessions.Publish(token, frames); {
	case errors.Is(err, ErrGone):
		writeStatus(w, http.StatusGone, "", nil, false)
	case err != nil:
		writeStatus(w, http.StatusInternalServerError, "", nil, false)
	default:
		writeStatus(w, http.StatusOK, "", nil, false)
	}
}

// split cuts a POST body into messages.
func (lp *LongPoll) split(contentType string, body []byte) ([]Frame, bool) {
	if ct, _, _ := strings.Cut(contentType, ";"); strings.TrimSpace(ct) != "application/x-ndjson" {
		return []Frame{{Data: body}}, true
	}
	batch := lp.MaxBatch
	if batch <= 0 {
		batch = DefaultMaxBatch
	}
	var frames []Frame
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if len(frames) == batch {
			break
		}
		if line[0] == '[' || line[0] == '{' {
			frames = append(frames, Frame{Data: line})
			continue
		}
		bin, err := base64.StdEncoding.AppendDecode(nil, line)
		if err != nil {
			return nil, false
		}
		frames = append(frames, Frame{Data: bin, Binary: true})
	}
	return frames, true
}

// sessionToken is the session token of r: the header of current clients,
// else the last token query parameter (older clients append theirs after
// the socket's own params, which may have a token of their own).
func sessionToken(r *http.Request) string {
	if t := r.Header.Get(TokenHeader); t != "" {
		return t
	}
	if ts := r.URL.Query()["token"]; len(ts) > 0 {
		return ts[len(ts)-1]
	}
	return ""
}

// writeStatus writes a transport answer: HTTP 200 and
// {"status":status[,"token":token][,"messages":[...]]}.
func writeStatus(w http.ResponseWriter, status int, token string, msgs [][]byte, withMessages bool) {
	n := 32 + len(token)
	for _, m := range msgs {
		n += len(m) + len(m)/8 + 3
	}
	b := make([]byte, 0, n)
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	if token != "" {
		b = append(b, `,"token":`...)
		b = AppendString(b, token)
	}
	if withMessages {
		b = append(b, `,"messages":[`...)
		for i, m := range msgs {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, string(m))
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
