package engine

import (
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/presence"
)

// Config configures an Engine. The zero value is a working server; every
// default is stated on its field.
type Config struct {
	// Loops is the number of event loops. Zero means one per CPU
	// (runtime.NumCPU); at most 64.
	Loops int
	// Workers is the size of the worker pool that runs handlers of routes
	// registered with Workers. Zero means 4 per CPU.
	Workers int

	// MaxMessageSize bounds a message after reassembly; a client that sends
	// more is closed with 1009. Zero means 64 KiB.
	MaxMessageSize int
	// MaxHandshakeSize bounds the upgrade request head. Zero means 8 KiB;
	// a larger head gets 431.
	MaxHandshakeSize int
	// HandshakeTimeout bounds the time from accept to a complete request head.
	// Zero means 10 s; the client then gets 408 and is closed.
	HandshakeTimeout time.Duration
	// PingInterval is how often an otherwise silent connection is pinged.
	// Its first ping comes up to half an interval early, by a phase of its
	// own, so that connections opened together are not all pinged at once.
	// Zero means 25 s; negative disables pings.
	PingInterval time.Duration
	// IdleTimeout closes a connection that sent no frame for this long.
	// Zero means 60 s; negative disables it.
	IdleTimeout time.Duration
	// CloseTimeout is how long a closing connection may take to answer the
	// server's close frame before its TCP connection is closed. Zero means 3 s.
	CloseTimeout time.Duration
	// MaxOutbound caps the bytes queued for one slow connection; past it the
	// connection is closed with 1008 "slow consumer". Zero means 1 MiB.
	MaxOutbound int
	// SendBuffer is each connection's kernel send buffer (SO_SNDBUF), in
	// bytes: the kernel holds at most this much of a connection's output
	// (Linux doubles the value for its bookkeeping, see socket(7)), and
	// MaxOutbound more waits in the engine, so a client that stops reading
	// costs at most MaxOutbound plus SendBuffer. Zero means 64 KiB;
	// negative leaves the buffer to the kernel, whose autotuning grows it
	// up to net.ipv4.tcp_wmem's maximum (4 MiB by default) while the
	// client keeps up, so that a stalled client may hold that much too.
	SendBuffer int
	// MaxPending caps the events queued for one connection of a Workers
	// route; past it the connection is closed with 1008. Zero means 1024.
	MaxPending int

	// MaxMessagesPerSecond limits the messages a connection may send: a
	// bucket of that many, refilled at that many per second. A connection
	// over it is closed with 1008 "rate limit" and the message is dropped
	// (Stats.RateLimited counts them). Zero means no limit; a Route may set
	// its own.
	MaxMessagesPerSecond int
	// MaxBytesPerSecond limits the bytes of messages (payloads as
	// received) a connection may send, as MaxMessagesPerSecond does: a
	// bucket of that many bytes, refilled at that many per second; a single
	// message larger than it is over the limit. Zero means no limit; a
	// Route may set its own.
	MaxBytesPerSecond int

	// DisableCompression turns permessage-deflate off. By default it is
	// negotiated when the client offers it (no context takeover either way,
	// so a broadcast is compressed once for all recipients); messages under
	// 128 bytes are sent uncompressed. A client that limits the server's
	// window (server_max_window_bits below 15) gets Huffman-only deflate,
	// compressed once per broadcast for all such clients.
	DisableCompression bool

	// AllowedOrigins, when not empty, is the list of Origin header values an
	// upgrade may carry ("*" matches any); others get 403. Requests without an
	// Origin header (non-browser clients) are allowed.
	AllowedOrigins []string
	// Auth, when set, runs on every upgrade request after routing. It returns
	// the user identity (carried by every event of the connection) or an
	// error: a *codec.Reject sets the status, any other error means 401.
	// It also runs on the request that opens a Phoenix long-poll session
	// (an error answers 403 there), on that request's net/http goroutine
	// rather than on an event loop: it must be safe for concurrent use.
	// For credentials that expire, use Authenticate.
	Auth func(*codec.Request) (user string, err error)
	// Authenticate is Auth with an expiry: when set it runs instead of
	// Auth, and a connection whose Credentials expire is closed with 4001
	// "token expired" once they do (within a tick of the timers), unless a
	// refresh message renews them (see Refresh).
	Authenticate func(*codec.Request) (Credentials, error)
	// Refresh checks the token of a refresh message,
	//
	//	{"type":"refresh","token":"..."}
	//
	// sent on a route with Route.Refresh: new Credentials of the same user
	// replace the connection's expiry, and the client gets
	// {"type":"refresh","expires_at":<unix seconds>} ("expires_at" is absent
	// when they do not expire); otherwise it gets {"type":"refresh",
	// "error":"..."} and the old expiry stands. It runs on the event loop
	// and must not block. Nil refuses every refresh.
	Refresh func(token string) (Credentials, error)
	// HTTPHandler serves the requests that are not WebSocket upgrades, on the
	// same port. Nil means 404 for all of them.
	HTTPHandler http.Handler
	// PresenceMode selects presence diff semantics; the zero value is
	// presence.ModeUser.
	PresenceMode presence.Mode
	// PresenceInterval batches each channel's presence changes once they
	// come faster than one per interval: a quiet channel publishes every
	// change at once (up to presence.DefaultBurst in a row, one more per
	// interval), and a busier one publishes the following changes
	// together, at most one presence_diff per interval, with one
	// presence_state encoded for every connection that tracked meanwhile.
	// This keeps a join storm in a big room from costing a diff per join
	// to every member. Zero means 50 ms; negative publishes every change
	// at once.
	PresenceInterval time.Duration

	// PhoenixPath is where Phoenix clients connect once a channel is
	// registered (HandleChannel): PhoenixPath+"/websocket" for WebSockets
	// and PhoenixPath+"/longpoll" for long polling, as phoenix.js's
	// new Socket(PhoenixPath) asks. Zero means "/socket".
	PhoenixPath string
	// MaxChannels caps the channels one Phoenix connection may have
	// joined; a join past it is refused with "too many channels joined".
	// A connection refused more joins than this within a second (any
	// refusal: the cap, a topic without a handler) is closed with 1008
	// "join flood". Zero means 100, Phoenix's default.
	MaxChannels int
	// LongPollWindow is how long a long poll waits for messages before it
	// is answered empty; a session polled by nobody for two windows is
	// closed. Zero means 10 s.
	LongPollWindow time.Duration

	// History gives the channels matching its rules a history (package
	// history): every publication gets a position, a Phoenix client can
	// recover what it missed on rejoin, and History reads it. The zero
	// value gives no channel history.
	History history.Rules
	// DisableLongPoll turns the long-poll transport off (PhoenixPath+
	// "/longpoll" then goes to HTTPHandler like any other request).
	DisableLongPoll bool

	// Logger receives the engine's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Observer, when set, is told about queue delays, close codes and
	// refused upgrades (for metrics).
	Observer Observer
}

// DefaultSendBuffer is Config.SendBuffer's default, 64 KiB (128 KiB as
// Linux counts it): room for a burst of messages to a client that reads,
// and a small part of what a stalled one may cost next to MaxOutbound.
const DefaultSendBuffer = 64 << 10

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Loops, runtime.NumCPU())
	c.Loops = min(c.Loops, maxLoops)
	def(&c.Workers, 4*runtime.NumCPU())
	def(&c.MaxMessageSize, codec.DefaultMaxMessageSize)
	def(&c.MaxHandshakeSize, codec.DefaultMaxHeadSize)
	def(&c.MaxOutbound, 1<<20)
	if c.SendBuffer == 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	def(&c.MaxPending, 1024)
	defDur(&c.HandshakeTimeout, 10*time.Second)
	defDur(&c.PingInterval, 25*time.Second)
	defDur(&c.IdleTimeout, 60*time.Second)
	defDur(&c.CloseTimeout, 3*time.Second)
	defDur(&c.PresenceInterval, 50*time.Millisecond)
	def(&c.MaxChannels, 100)
	defDur(&c.LongPollWindow, 10*time.Second)
	if c.PhoenixPath == "" {
		c.PhoenixPath = "/socket"
	}
	c.PhoenixPath = strings.TrimSuffix(c.PhoenixPath, "/")
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// tick is how often the loops sweep their timers: often enough for the
// shortest configured interval to be honoured within a quarter of it.
func (c Config) tick() time.Duration {
	t := time.Second
	for _, d := range []time.Duration{c.HandshakeTimeout, c.PingInterval, c.IdleTimeout, c.CloseTimeout, c.LongPollWindow} {
		if d > 0 && d/4 < t {
			t = d / 4
		}
	}
	return max(t, 5*time.Millisecond)
}
