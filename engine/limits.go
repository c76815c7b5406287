package engine

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/ripple-rt/ripple/codec"
)

// limits is a connection's inbound rate-limit state and its credentials'
// expiry. It is allocated at the upgrade, and only for a connection whose
// route limits its messages or whose credentials expire, so that the others
// pay nothing for it (conn holds a nil pointer). Owned by the event loop;
// no locks.
type limits struct {
	// expires is when the credentials expire (unix nanoseconds); 0 = never.
	// The timer sweep closes the connection once it has passed.
	expires int64
	// The rate limits as GCRA: each is the time (unix nanoseconds) at
	// which the bucket would be full again.
	msgs  int64
	bytes int64
}

// Close reasons of the limits.
const (
	ReasonRateLimit    = "rate limit"    // with 1008
	ReasonTokenExpired = "token expired" // with codec.CloseTokenExpired
)

// expired reports whether the credentials expired before now.
func (l *limits) expired(now int64) bool { return l.expires != 0 && now > l.expires }

// rateWindow is a bucket's size in time: a rate of N per second holds a
// burst of N.
const rateWindow = int64(time.Second)

// take charges one message of size bytes, received at now, against the
// route's rates and reports whether it fits.
//
// A bucket of N tokens refilled at N per second is kept as one time, tat:
// the moment it would be full again. A message costs 1/N s (size/B s for
// bytes) and fits when it leaves tat at most a second ahead of now (the
// generic cell rate algorithm; one int64 per bucket instead of a count and
// a refill time).
func (l *limits) take(now int64, size int, r *Route) bool {
	return (r.MaxMessagesPerSecond <= 0 || charge(&l.msgs, now, 1, r.MaxMessagesPerSecond)) &&
		(r.MaxBytesPerSecond <= 0 || charge(&l.bytes, now, size, r.MaxBytesPerSecond))
}

// charge moves tat forward by n units at rate units per second unless that
// takes it more than rateWindow past now.
func charge(tat *int64, now int64, n, rate int) bool {
	t := max(*tat, now)
	cost := (int64(n)*int64(time.Second) + int64(rate) - 1) / int64(rate)
	if t+cost-now > rateWindow {
		return false
	}
	*tat = t + cost
	return true
}

// limited reports whether route r limits its connections' messages.
func (r *Route) limited() bool { return r.MaxMessagesPerSecond > 0 || r.MaxBytesPerSecond > 0 }

// rateLimit charges a message of c against its route's rates; a connection
// over either is closed with 1008 "rate limit" and the message dropped.
// now is read once per read (0 until then). Loop only.
func (e *Engine) rateLimit(c *conn, size int, now *int64) bool {
	if c.lim == nil || !c.rt.route.limited() {
		return true
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	if c.lim.take(*now, size, c.rt.route) {
		return true
	}
	e.stats.RateLimited.Add(1)
	c.flushPending() // the answers to the messages that fitted go first
	c.close(codec.ClosePolicyViolation, ReasonRateLimit, true)
	return false
}

// limitOf is a route's rate given its own setting and the server's: the
// route's when positive, none when negative, else the server's.
func limitOf(route, server int) int {
	switch {
	case route > 0:
		return route
	case route < 0:
		return 0
	}
	return max(server, 0)
}

// authenticate runs the upgrade's hook: Authenticate, or Auth (whose
// credentials never expire).
func (e *Engine) authenticate(r *codec.Request) (Credentials, error) {
	if e.cfg.Authenticate != nil {
		return e.cfg.Authenticate(r)
	}
	user, err := e.cfg.Auth(r)
	return Credentials{User: user}, err
}

// Errors a refresh message is answered with.
var (
	ErrNoRefresh   = errors.New("engine: refresh not supported")
	ErrNoToken     = errors.New("engine: token required")
	ErrOtherUser   = errors.New("engine: token is for another user")
	errNotARefresh = errors.New("engine: not a refresh message")
)

// refresh handles msg when it is a refresh message for c ({"type":
// "refresh","token":...}) and reports whether it was. Valid credentials of
// c's user replace its expiry; the client is told the outcome either way.
// Loop only.
func (e *Engine) refresh(c *conn, msg []byte) bool {
	token, err := refreshToken(msg)
	if errors.Is(err, errNotARefresh) {
		return false
	}
	var creds Credentials
	if err == nil {
		if e.cfg.Refresh == nil {
			err = ErrNoRefresh
		} else if creds, err = e.cfg.Refresh(token); err == nil && creds.User != c.user() {
			err = ErrOtherUser
		}
	}
	reply := refreshReply{Type: "refresh"}
	switch {
	case err != nil:
		e.log.Debug("refresh refused", "conn", c.sh.idOf(c), "err", err)
		reply.Error = strings.ReplaceAll(err.Error(), "\n", ": ")
	case creds.Expires.IsZero():
		if c.lim != nil {
			c.lim.expires = 0
		}
	default:
		if c.lim == nil {
			c.lim = &limits{}
		}
		c.lim.expires = creds.Expires.UnixNano()
		c.sh.recheck(c)
		at := creds.Expires.Unix()
		reply.ExpiresAt = &at
	}
	if b, err := codec.MarshalJSON(reply); err == nil {
		c.send(codec.OpText, b)
	}
	return true
}

// refreshReply answers a refresh message.
type refreshReply struct {
	Type      string `json:"type"`                 // "refresh"
	ExpiresAt *int64 `json:"expires_at,omitempty"` // unix seconds; absent when the credentials do not expire
	Error     string `json:"error,omitempty"`      // why the refresh was refused
}

// refreshToken returns the token of a refresh message, errNotARefresh for
// any other message, or ErrNoToken.
func refreshToken(msg []byte) (string, error) {
	if !bytes.Contains(msg, []byte(`"refresh"`)) { // most messages: no parse
		return "", errNotARefresh
	}
	var m struct {
		Type  string `json:"type"`
		Token string `json:"token"`
	}
	if codec.UnmarshalJSON(msg, &m) != nil || m.Type != "refresh" {
		return "", errNotARefresh
	}
	if m.Token == "" {
		return "", ErrNoToken
	}
	return m.Token, nil
}
