package httpapi

import (
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/presence"
)

// Hub is what the API drives; *ripple.Server implements it.
type Hub interface {
	Send(id string, msg []byte) bool
	Broadcast(msg []byte) int
	BroadcastRoom(channel string, msg []byte) int
	Count() int
	Join(id, channel string) error
	Leave(id, channel string) error
	Clients() []string
	ClientsIn(channel string) []string
	Close(id, reason string) bool
	ListPresence(channel string) []presence.Presence
	PresenceCount(channel string) int
	GetPresence(channel, userID string) (presence.Presence, bool)
}

// Config configures the API. The zero value answers loopback peers only.
type Config struct {
	// APIKey, when set, is required as "Authorization: Bearer <key>" and
	// lifts the loopback rule.
	APIKey string
	// MaxBody bounds a request body. Zero means 1 MiB.
	MaxBody int64
}

// Prefix is where the API is mounted.
const Prefix = "/api/"

// New returns the API handler, to be mounted at Prefix.
func New(h Hub, cfg Config) http.Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
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
}

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) error { return &apiError{http.StatusBadRequest, msg} }

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
	out, err := call(a.h, &in)
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

var calls = map[string]func(Hub, *args) (any, error){
	"send": func(h Hub, in *args) (any, error) {
		id, err := need("connection_id", in.ConnectionID)
		if err != nil {
			return nil, err
		}
		msg, err := needMessage(in.Message)
		if err != nil {
			return nil, err
		}
		if !h.Send(id, msg) {
			return nil, &apiError{http.StatusNotFound, "unknown connection_id"}
		}
		return map[string]bool{"delivered": true}, nil
	},
	"broadcast": func(h Hub, in *args) (any, error) {
		msg, err := needMessage(in.Message)
		if err != nil {
			return nil, err
		}
		return map[string]int{"recipients": h.Broadcast(msg)}, nil
	},
	"broadcast_room": func(h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		msg, err := needMessage(in.Message)
		if err != nil {
			return nil, err
		}
		return map[string]int{"recipients": h.BroadcastRoom(ch, msg)}, nil
	},
	"count": func(h Hub, _ *args) (any, error) {
		return map[string]int{"count": h.Count()}, nil
	},
	"join":  membership(Hub.Join),
	"leave": membership(Hub.Leave),
	"clients": func(h Hub, _ *args) (any, error) {
		return map[string][]string{"clients": nonNil(h.Clients())}, nil
	},
	"clients_in": func(h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		return map[string][]string{"clients": nonNil(h.ClientsIn(ch))}, nil
	},
	"close": func(h Hub, in *args) (any, error) {
		id, err := need("connection_id", in.ConnectionID)
		if err != nil {
			return nil, err
		}
		reason := ""
		if in.Reason != nil {
			reason = *in.Reason
		}
		return map[string]bool{"closed": h.Close(id, reason)}, nil
	},
	"list_presence": func(h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		ps := h.ListPresence(ch)
		if ps == nil {
			ps = []presence.Presence{}
		}
		return map[string][]presence.Presence{"presences": ps}, nil
	},
	"presence_count": func(h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		return map[string]int{"count": h.PresenceCount(ch)}, nil
	},
	"get_presence": func(h Hub, in *args) (any, error) {
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		user, err := need("user_id", in.UserID)
		if err != nil {
			return nil, err
		}
		p, ok := h.GetPresence(ch, user)
		if !ok {
			return nil, &apiError{http.StatusNotFound, "user not present"}
		}
		return p, nil
	},
}

func membership(op func(Hub, string, string) error) func(Hub, *args) (any, error) {
	return func(h Hub, in *args) (any, error) {
		id, err := need("connection_id", in.ConnectionID)
		if err != nil {
			return nil, err
		}
		ch, err := need("channel", in.Channel)
		if err != nil {
			return nil, err
		}
		switch err := op(h, id, ch); {
		case errors.Is(err, engine.ErrUnknownConn), errors.Is(err, engine.ErrConnClosed):
			return nil, &apiError{http.StatusNotFound, "unknown connection_id"}
		case err != nil:
			return nil, err
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
