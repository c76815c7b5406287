package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/presence"
)

// Hub is what the API drives; *ripple.Server implements it. A method that
// could not reach the other nodes of a cluster (or the presence backend)
// returns an error wrapping engine.ErrUnavailable.
type Hub interface {
	SendContext(ctx context.Context, id string, msg []byte) (bool, error)
	BroadcastContext(ctx context.Context, msg []byte) (int, error)
	BroadcastRoomContext(ctx context.Context, channel string, msg []byte) (int, error)
	CountContext(ctx context.Context) (int, error)
	JoinContext(ctx context.Context, id, channel string) error
	LeaveContext(ctx context.Context, id, channel string) error
	ClientsContext(ctx context.Context) ([]string, error)
	ClientsInContext(ctx context.Context, channel string) ([]string, error)
	CloseContext(ctx context.Context, id string, code codec.CloseCode, reason string) (bool, error)
	ListPresenceContext(ctx context.Context, channel string) ([]presence.Presence, error)
	PresenceCountContext(ctx context.Context, channel string) (int, error)
	GetPresenceContext(ctx context.Context, channel, userID string) (presence.Presence, bool, error)
	History(ctx context.Context, channel string, since *history.Position, limit int) (history.Result, error)
}

// Config configures the API. The zero value answers loopback peers only.
type Config struct {
	// APIKey, when set, is required as "Authorization: Bearer <key>" and
	// lifts the loopback rule.
	APIKey string
	// MaxBody bounds a request body. Zero means 1 MiB.
	MaxBody int64
	// Timeout bounds a call's wait for the other nodes of a cluster; past
	// it the call answers 503. Zero means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is the default of Config.Timeout.
const DefaultTimeout = 2 * time.Second

// Prefix is where the API is mounted.
const Prefix = "/api/"

// New returns the API handler, to be mounted at Prefix.
func New(h Hub, cfg Config) http.Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &api{h: h, cfg: cfg}
}

type api struct {
	h   Hub    // Immutable.
	cfg Config // Immutable.
}

// args are the named arguments of every call; each call reads the ones it
// needs.
type args struct {
	ConnectionID *string `json:"connection_id"`
	Message      *string `json:"message"`
	Channel      *string `json:"channel"`
	Reason       *string `json:"reason"`
	UserID       *string `json:"user_id"`
	Since        *since  `json:"since"`
	Limit        *int    `json:"limit"`
}

// since is a history position in a request.
type since struct {
	Epoch  *string `json:"epoch"`
	Offset *int64  `json:"offset"`
}

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) error { return &apiError{http.StatusBadRequest, msg} }

// unavailable is the answer to a call the cluster did not answer in time.
func unavailable(err error) error { return &apiError{http.StatusServiceUnavailable, err.Error()} }

// callError turns a helper's error into the call's: 503 when the cluster
// (Redis) did not answer, else 400.
func callError(err error) error {
	if errors.Is(err, engine.ErrUnavailable) {
		return unavailable(err)
	}
	return err
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if status, msg := a.authorize(r); status != 0 {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	call, ok := calls[name]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown call " + name})
		return
	}
	var in args
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := codec.UnmarshalJSON(body, &in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body: " + err.Error()})
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Timeout)
	defer cancel()
	out, err := call(ctx, a.h, &in)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{http.StatusBadRequest, err.Error()}
		}
		writeJSON(w, ae.status, map[string]string{"error": ae.msg})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// authorize returns a non-zero status when the caller may not use the API.
func (a *api) authorize(r *http.Request) (int, string) {
	if a.cfg.APIKey != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.APIKey)) != 1 {
			return http.StatusUnauthorized, "missing or wrong API key"
		}
		return 0, ""
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return http.StatusForbidden, "the API answers loopback clients only unless an API key is set"
	}
	return 0, ""
}

func need(field string, v *string) (string, error) {
	if v == nil || *v == "" {
		return "", badRequest("missing field " + field)
	}
	return *v, nil
}

// needMessage allows an empty message but not a missing one.
func needMessage(v *string) ([]byte, error) {
	if v == nil {
		return nil, badRequest("missing field message")
	}
	return []byte(*v), nil
}

var calls = map[string]func(context.Context, Hub, *args) (any, error){
	"send": func(ctx context.Context, h Hub, in *args) (any, error) {
		id, err := need("connection_id", in.ConnectionID)
		if err != nil {
			return nil, err
		}
		msg, err := needMessage(in.Message)
		if err != nil {
			return nil, err
		}
		ok, err := h.SendContext(ctx, id, msg)
		switch {
		case err != nil:
			return nil, callError(err)
		case !ok:
			return nil, &apiError{http.StatusNotFound, "unknown connection_id"}
		}
		return map[string]bool{"delivered": true}, nil
	},
	"broadcast": func(ctx context.Context, h Hub, in *args) (any, error) {
		msg, err := needMessage(in.Message)
		if err != nil {
			return nil, err
		}
		return recipients(h.BroadcastContext(ctx, msg))
	},
	"broadcast_room": func(ctx context.Context, h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		msg, err := needMessage(in.Message)
		if err != nil {
			return nil, err
		}
		return recipients(h.BroadcastRoomContext(ctx, ch, msg))
	},
	"count": func(ctx context.Context, h Hub, _ *args) (any, error) {
		n, err := h.CountContext(ctx)
		if err != nil {
			return nil, callError(err)
		}
		return map[string]int{"count": n}, nil
	},
	"join":  membership(Hub.JoinContext),
	"leave": membership(Hub.LeaveContext),
	"clients": func(ctx context.Context, h Hub, _ *args) (any, error) {
		ids, err := h.ClientsContext(ctx)
		if err != nil {
			return nil, callError(err)
		}
		return map[string][]string{"clients": nonNil(ids)}, nil
	},
	"clients_in": func(ctx context.Context, h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		ids, err := h.ClientsInContext(ctx, ch)
		if err != nil {
			return nil, callError(err)
		}
		return map[string][]string{"clients": nonNil(ids)}, nil
	},
	"close": func(ctx context.Context, h Hub, in *args) (any, error) {
		id, err := need("connection_id", in.ConnectionID)
		if err != nil {
			return nil, err
		}
		reason := ""
		if in.Reason != nil {
			reason = *in.Reason
		}
		closed, err := h.CloseContext(ctx, id, codec.CloseNormal, reason)
		if err != nil {
			return nil, callError(err)
		}
		return map[string]bool{"closed": closed}, nil
	},
	"list_presence": func(ctx context.Context, h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		ps, err := h.ListPresenceContext(ctx, ch)
		if err != nil {
			return nil, unavailable(err) // never an empty list for no answer
		}
		if ps == nil {
			ps = []presence.Presence{}
		}
		return map[string][]presence.Presence{"presences": ps}, nil
	},
	"presence_count": func(ctx context.Context, h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		n, err := h.PresenceCountContext(ctx, ch)
		if err != nil {
			return nil, unavailable(err)
		}
		return map[string]int{"count": n}, nil
	},
	"history": historyCall,
	"get_presence": func(ctx context.Context, h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		user, err := need("user_id", in.UserID)
		if err != nil {
			return nil, err
		}
		p, ok, err := h.GetPresenceContext(ctx, ch, user)
		switch {
		case err != nil:
			return nil, unavailable(err)
		case !ok:
			return nil, &apiError{http.StatusNotFound, "user not present"}
		}
		return p, nil
	},
}

// recipients is the answer of a broadcast: the cluster's count, or, when
// the other nodes did not answer in time, this node's with "partial": the
// message reached this node's connections, and the other nodes' only if
// Redis takes it later.
func recipients(n int, err error) (any, error) {
	if err != nil {
		if !errors.Is(err, engine.ErrUnavailable) {
			return nil, err
		}
		return map[string]any{"recipients": n, "partial": true}, nil
	}
	return map[string]int{"recipients": n}, nil
}

func membership(op func(Hub, context.Context, string, string) error) func(context.Context, Hub, *args) (any, error) {
	return func(ctx context.Context, h Hub, in *args) (any, error) {
		id, err := need("connection_id", in.ConnectionID)
		if err != nil {
			return nil, err
		}
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		switch err := op(h, ctx, id, ch); {
		case errors.Is(err, engine.ErrUnknownConn), errors.Is(err, engine.ErrConnClosed):
			return nil, &apiError{http.StatusNotFound, "unknown connection_id"}
		case err != nil:
			return nil, callError(err)
		}
		return map[string]bool{"ok": true}, nil
	}
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := codec.MarshalJSON(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// historyCall answers POST /api/history {"channel","since"?,"limit"?} with
// {"epoch","offset","publications":[{"offset","message"}]} (and
// "recovered" when since was given). A binary publication's message is
// base64, with "binary": true.
func historyCall(ctx context.Context, h Hub, in *args) (any, error) {
	ch, err := need("channel", in.Channel)
	if err != nil {
		return nil, err
	}
	var pos *history.Position
	if s := in.Since; s != nil {
		if s.Epoch == nil || s.Offset == nil || *s.Offset < 0 {
			return nil, badRequest(`since must be {"epoch": string, "offset": non-negative integer}`)
		}
		pos = &history.Position{Epoch: *s.Epoch, Offset: uint64(*s.Offset)}
	}
	limit := 0
	if in.Limit != nil {
		if *in.Limit < 0 {
			return nil, badRequest("limit must not be negative")
		}
		limit = *in.Limit
	}
	res, err := h.History(ctx, ch, pos, limit)
	switch {
	case errors.Is(err, history.ErrNoHistory):
		return nil, &apiError{http.StatusNotFound, "channel has no history"}
	case err != nil:
		return nil, unavailable(err)
	}
	type publication struct {
		Offset  uint64 `json:"offset"`
		Message string `json:"message"`
		Binary  bool   `json:"binary,omitempty"`
	}
	out := struct {
		Epoch        string        `json:"epoch"`
		Offset       uint64        `json:"offset"`
		Recovered    *bool         `json:"recovered,omitempty"`
		Publications []publication `json:"publications"`
	}{Epoch: res.Top.Epoch, Offset: res.Top.Offset, Publications: make([]publication, 0, len(res.Publications))}
	if pos != nil {
		out.Recovered = &res.Recovered
	}
	for _, p := range res.Publications {
		msg := string(p.Payload)
		if p.Binary {
			msg = base64.StdEncoding.EncodeToString(p.Payload)
		}
		out.Publications = append(out.Publications, publication{Offset: p.Offset, Message: msg, Binary: p.Binary})
	}
	return out, nil
}
