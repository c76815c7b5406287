package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/codec"
)

// Defaults of Config's zero fields.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultConcurrency = 64
	DefaultMaxResponse = 1 << 20
)

// OnError says what a failed connect call does to the connection.
type OnError uint8

const (
	// Reject closes the connection with 1011 (the default).
	Reject OnError = iota
	// Accept keeps the connection, with no actions.
	Accept
)

// Outcome classifies a call, for metrics and logs.
type Outcome string

const (
	OK      Outcome = "ok"      // 2xx with valid actions
	Refused Outcome = "refused" // 4xx to a connect: the connection is refused
	Failed  Outcome = "error"   // network error, 3xx/4xx/5xx, invalid answer
	Timeout Outcome = "timeout" // no answer (or no free slot) within Timeout
)

// Observer is told about every call; a metrics exporter implements it.
type Observer interface {
	WebhookCall(route, event string, outcome Outcome, d time.Duration)
	// WebhookInvalidAnswer is told about every answer of route's backend
	// that was not valid actions or whose actions failed.
	WebhookInvalidAnswer(route string)
}

// Config configures a Handler. URL is required; every other zero field has
// the default stated on it.
type Config struct {
	// URL receives the events as POST requests.
	URL string
	// Route is the route's pattern, sent in events and used in logs and
	// metrics.
	Route string
	// Secret, when set, signs every request (X-Ripple-Signature).
	Secret string
	// Timeout bounds a call, including the wait for a free slot. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Concurrency bounds the calls in flight. Zero means
	// DefaultConcurrency.
	Concurrency int
	// OnError is what a failed connect call does; the zero value is Reject.
	OnError OnError
	// StripCredentials leaves the "token" query parameter and the
	// Authorization header out of events, for routes whose token the
	// server verified itself (the event's user is its subject).
	StripCredentials bool
	// Close closes a refused connection with code and reason. Nil means
	// refused connections stay open (their events are still not posted).
	Close func(id string, code codec.CloseCode, reason string)
	// Client makes the calls. Nil means a client of its own that keeps up
	// to Concurrency idle connections to the backend and follows no
	// redirects.
	Client *http.Client
	// Logger receives failures. Nil means slog.Default().
	Logger *slog.Logger
	// Observer, when set, is told about every call.
	Observer Observer
	// ReportErrors posts an ErrorEvent to URL for every answer that was
	// not valid actions, or whose actions failed when applied (ActionError),
	// so the backend learns of its own mistakes. Its answer is ignored.
	ReportErrors bool
	// MaxResponse bounds an answer's body. Zero means DefaultMaxResponse.
	MaxResponse int64
}

// Errors.
var (
	ErrNoURL       = errors.New("webhook: URL required")
	ErrStatus      = errors.New("webhook: backend answered with an error status")
	ErrTooLarge    = errors.New("webhook: answer too large")
	ErrTimeout     = errors.New("webhook: backend did not answer in time")
	ErrBadResponse = errors.New("webhook: answer is not valid actions")
)

// Handler posts a route's events to a backend. Create it with New and
// register its Handle method with ripple.Workers().
type Handler struct {
	// Immutable after New.
	cfg    Config
	client *http.Client
	log    *slog.Logger
	slots  chan struct{} // one token per call in flight

	// refused holds the ids of connections refused on connect, until their
	// disconnect event. Safe for concurrent use.
	refused sync.Map

	reports chan struct{} // one token per error report in flight
	limit   logLimiter
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.URL == "" {
		return nil, ErrNoURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = DefaultMaxResponse
	}
	h := &Handler{cfg: cfg, client: cfg.Client, log: cfg.Logger, slots: make(chan struct{}, cfg.Concurrency),
		reports: make(chan struct{}, cfg.Concurrency)}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.log = h.log.With("route", cfg.Route, "webhook", cfg.URL)
	if h.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Concurrency
		h.client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return h, nil
}

// Handle is the route's ripple.Handler (or a channel's, registered with
// ripple.Server.Channel). It blocks for the call, so register it with
// ripple.Workers().
func (h *Handler) Handle(ev *ripple.Event) ripple.Reply {
	if ev.Topic != "" {
		return h.handleChannel(ev)
	}
	if ev.Type != ripple.Connect {
		if _, refused := h.refused.Load(ev.ConnectionID); refused {
			if ev.Type == ripple.Disconnect {
				h.refused.Delete(ev.ConnectionID)
			}
			return ripple.Reply{}
		}
	}
	body, err := codec.MarshalJSON(h.event(ev))
	if err != nil { // only a broken encoder gets here
		h.log.Error("webhook event not encodable", "conn", ev.ConnectionID, "err", err)
		return ripple.Reply{}
	}
	start := time.Now()
	reply, outcome, err := h.call(ev, body)
	elapsed := time.Since(start)
	if h.cfg.Observer != nil {
		h.cfg.Observer.WebhookCall(h.cfg.Route, ev.Type.String(), outcome, elapsed)
	}
	switch {
	case outcome == OK:
		return reply
	case outcome == Refused:
		h.log.Debug("connection refused by backend", "conn", ev.ConnectionID, "reason", err.Error())
		h.refuse(ev.ConnectionID, codec.ClosePolicyViolation, err.Error())
		return ripple.Reply{}
	}
	h.logFailure(start, "webhook call failed", "conn", ev.ConnectionID, "event", ev.Type.String(), "outcome", string(outcome),
		"elapsed", elapsed.Round(time.Millisecond), "err", err)
	if errors.Is(err, ErrBadResponse) {
		h.invalid(ev.ConnectionID, ev.Type.String(), err)
	}
	if ev.Type == ripple.Connect && h.cfg.OnError == Reject {
		h.refuse(ev.ConnectionID, codec.CloseInternalError, "backend unavailable")
	}
	return ripple.Reply{}
}

// logFailure logs a failure unless one was logged less than a second ago.
func (h *Handler) logFailure(now time.Time, msg string, attrs ...any) {
	if ok, suppressed := h.limit.allow(now); ok {
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		h.log.Warn(msg, attrs...)
	}
}

// ActionError is told about the answers whose actions failed when applied
// (a set_presence on a channel the connection does not track, ...):
// register it with ripple.OnActionError. Like an answer that is not valid
// actions, it is counted and, with ReportErrors, reported to the backend.
// It does not block.
func (h *Handler) ActionError(connID string, event ripple.EventType, err error) {
	h.invalid(connID, event.String(), err)
}

// invalid counts an answer the server could not apply and reports it.
func (h *Handler) invalid(connID, event string, err error) {
	if h.cfg.Observer != nil {
		h.cfg.Observer.WebhookInvalidAnswer(h.cfg.Route)
	}
	if h.cfg.ReportErrors {
		h.report(&ErrorEvent{Type: "error", ConnectionID: connID, Error: err.Error(), Event: event, Route: h.cfg.Route})
	}
}

// report posts ev in the background; at most Concurrency reports are in
// flight, and one that finds none free is dropped (and logged).
func (h *Handler) report(ev *ErrorEvent) {
	select {
	case h.reports <- struct{}{}:
	default:
		h.logFailure(time.Now(), "error report dropped: too many in flight", "conn", ev.ConnectionID, "err", ev.Error)
		return
	}
	go func() {
		defer func() { <-h.reports }()
		body, err := codec.MarshalJSON(ev)
		if err == nil {
			var status int
			status, _, _, err = h.post("error", ev.ConnectionID, body)
			if err == nil && (status < 200 || status > 299) {
				err = fmt.Errorf("%w %d", ErrStatus, status)
			}
		}
		if err != nil {
			h.logFailure(time.Now(), "error report failed", "conn", ev.ConnectionID, "err", err)
		}
	}()
}

// handleChannel is Handle for a Phoenix channel's events: a refusal or a
// failure answers the join (or the message) with an error reply instead of
// closing the connection, which may have other channels.
func (h *Handler) handleChannel(ev *ripple.Event) ripple.Reply {
	body, err := codec.MarshalJSON(h.event(ev))
	if err != nil { // only a broken encoder gets here
		h.log.Error("webhook event not encodable", "conn", ev.ConnectionID, "err", err)
		return ripple.Reply{}
	}
	start := time.Now()
	reply, outcome, err := h.call(ev, body)
	elapsed := time.Since(start)
	if h.cfg.Observer != nil {
		h.cfg.Observer.WebhookCall(h.cfg.Route, ev.Type.String(), outcome, elapsed)
	}
	switch {
	case outcome == OK:
		return reply
	case outcome == Refused:
		h.log.Debug("join refused by backend", "conn", ev.ConnectionID, "topic", ev.Topic, "reason", err.Error())
		return ripple.Reply{Reply: ripple.ReplyError(err.Error())}
	}
	if ok, suppressed := h.limit.allow(start); ok {
		attrs := []any{"conn", ev.ConnectionID, "topic", ev.Topic, "event", ev.Type.String(), "outcome", string(outcome),
			"elapsed", elapsed.Round(time.Millisecond), "err", err}
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		h.log.Warn("webhook call failed", attrs...)
	}
	switch {
	case ev.Type == ripple.Connect && h.cfg.OnError == Accept:
		return ripple.Reply{}
	case ev.Type == ripple.Disconnect || ev.Ref == "":
		return ripple.Reply{}
	}
	return ripple.Reply{Reply: ripple.ReplyError("backend unavailable")}
}

// refuse marks a connection refused and closes it.
func (h *Handler) refuse(id string, code codec.CloseCode, reason string) {
	h.refused.Store(id, struct{}{})
	if h.cfg.Close != nil {
		h.cfg.Close(id, code, closeReason(reason))
	}
}

// call posts one event and interprets the answer.
func (h *Handler) call(ev *ripple.Event, body []byte) (ripple.Reply, Outcome, error) {
	status, data, outcome, err := h.post(ev.Type.String(), ev.ConnectionID, body)
	switch {
	case err != nil:
		return ripple.Reply{}, outcome, err
	case status >= 400 && status < 500 && ev.Type == ripple.Connect:
		return ripple.Reply{}, Refused, errors.New(refusal(status, data))
	case status < 200 || status > 299:
		return ripple.Reply{}, Failed, fmt.Errorf("%w %d: %s", ErrStatus, status, snippet(data))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return ripple.Reply{}, OK, nil
	}
	reply, err := ripple.DecodeReply(data)
	if err != nil {
		return ripple.Reply{}, Failed, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return reply, OK, nil
}

// post sends one request, of event type typ, within Timeout and one of
// the Concurrency slots, and returns the answer's status and body; on
// error, outcome says whether it was a timeout.
func (h *Handler) post(typ, connID string, body []byte) (status int, data []byte, outcome Outcome, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
	defer cancel()
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-ctx.Done():
		return 0, nil, Timeout, fmt.Errorf("%w (all %d slots busy)", ErrTimeout, cap(h.slots))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, Failed, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ripple-webhook")
	req.Header.Set("X-Ripple-Event", typ)
	req.Header.Set("X-Ripple-Connection-Id", connID)
	if h.cfg.Secret != "" {
		ts := time.Now().Unix()
		req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
		req.Header.Set(SignatureHeader, Sign([]byte(h.cfg.Secret), ts, body))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, Timeout, fmt.Errorf("%w (%s)", ErrTimeout, h.cfg.Timeout)
		}
		return 0, nil, Failed, err
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, h.cfg.MaxResponse+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return 0, nil, Timeout, fmt.Errorf("%w (%s)", ErrTimeout, h.cfg.Timeout)
	case err != nil:
		return 0, nil, Failed, err
	case int64(len(data)) > h.cfg.MaxResponse:
		return 0, nil, Failed, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, h.cfg.MaxResponse)
	}
	return resp.StatusCode, data, OK, nil
}

// ErrorEvent is the JSON body of an error request (Config.ReportErrors):
// an answer of the backend that the server could not apply.
type ErrorEvent struct {
	Type         string `json:"type"` // "error"
	ConnectionID string `json:"connection_id"`
	// Error says what was wrong: the answer was not valid actions
	// ("webhook: answer is not valid actions: ..."), or an action failed
	// ("set_presence \"room:1\": presence: not tracked").
	Error string `json:"error"`
	// Event is the type of the event answered: connect, message or
	// disconnect.
	Event string `json:"event"`
	Route string `json:"route"` // the route's pattern
}

// Event is the JSON body of a webhook request.
type Event struct {
	Type         string `json:"type"` // connect, message or disconnect
	ConnectionID string `json:"connection_id"`
	// Message is the text of a message event (base64 when Binary);
	// absent from connect and disconnect events.
	Message *string `json:"message,omitempty"`
	Binary  bool    `json:"binary,omitempty"`
	// Params are the route's dynamic segments ({"room_id": "1"}).
	Params map[string]string `json:"params"`
	// User is the authenticated user (a JWT's sub), absent when none.
	User  string `json:"user,omitempty"`
	Route string `json:"route"` // the route's pattern
	Path  string `json:"path"`  // the upgrade request's path
	// Query holds the first value of each query parameter.
	Query map[string]string `json:"query"`
	// Headers holds the upgrade request's headers with lower-case names
	// (values of a repeated header joined by ", ", cookies by "; ").
	Headers    map[string]string `json:"headers,omitempty"`
	RemoteAddr string            `json:"remote_addr,omitempty"`

	// The events of a Phoenix channel also carry its Topic ("room:42";
	// Params are what the topic pattern captured), Event: the name of the
	// event the client pushed (or, on disconnect, why the channel ended:
	// phx_leave, phx_close, phx_error), Ref: the client's ref of the join or
	// message, and JoinParams: the join's payload, on every event after the
	// join. Message holds the join params or the pushed payload (JSON text,
	// base64 with Binary). A channel's answer may have "reply".
	Topic      string        `json:"topic,omitempty"`
	Event      string        `json:"event,omitempty"`
	Ref        string        `json:"ref,omitempty"`
	JoinParams codec.RawJSON `json:"join_params,omitempty"`
}

func (h *Handler) event(ev *ripple.Event) *Event {
	out := &Event{
		Type:         ev.Type.String(),
		ConnectionID: ev.ConnectionID,
		Params:       ev.Params.Map(),
		User:         ev.User,
		Route:        h.cfg.Route,
		Query:        map[string]string{},
		Topic:        ev.Topic,
		Event:        ev.Name,
		Ref:          ev.Ref,
	}
	if ev.Topic != "" && ev.Type != ripple.Connect && len(ev.JoinParams) > 0 {
		out.JoinParams = codec.RawJSON(ev.JoinParams)
	}
	if ev.Type == ripple.Message || ev.Topic != "" && ev.Type == ripple.Connect { // a join's message is its params
		msg := string(ev.Message)
		if ev.Binary {
			msg, out.Binary = base64.StdEncoding.EncodeToString(ev.Message), true
		}
		out.Message = &msg
	}
	if r := ev.Request; r != nil {
		out.Path, out.RemoteAddr = r.Path, r.RemoteAddr()
		for k, vs := range r.Query() {
			if k == "token" && h.cfg.StripCredentials || len(vs) == 0 {
				continue
			}
			out.Query[k] = vs[0]
		}
		for k, vs := range r.Header {
			k = strings.ToLower(k)
			if k == "authorization" && h.cfg.StripCredentials {
				continue
			}
			if out.Headers == nil {
				out.Headers = make(map[string]string, len(r.Header))
			}
			sep := ", "
			if k == "cookie" {
				sep = "; "
			}
			out.Headers[k] = strings.Join(vs, sep)
		}
	}
	return out
}

// refusal is the close reason of a 4xx answer: its "error" field, else its
// status text.
func refusal(status int, body []byte) string {
	var obj struct {
		Error string `json:"error"`
	}
	if codec.UnmarshalJSON(body, &obj) == nil && obj.Error != "" {
		return obj.Error
	}
	return strings.ToLower(http.StatusText(status))
}

// snippet is the start of an error answer, for logs.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		b = b[:max]
	}
	return strings.ToValidUTF8(string(bytes.TrimSpace(b)), "?")
}

// closeReason fits a reason in a close frame (123 bytes of UTF-8).
func closeReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// logLimiter lets one failure log through per second and counts the rest,
// so a backend outage does not turn every message into a log line.
type logLimiter struct {
	mu         sync.Mutex
	next       time.Time // Guarded by mu.
	suppressed int       // Guarded by mu.
}

func (l *logLimiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.next, l.suppressed = now.Add(time.Second), 0
	return true, n
}
