package cluster

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"github.com/ripple-rt/ripple/presence"
)

// Defaults of Config. With them a node that dies is removed everywhere
// within DefaultDeadline + DefaultHeartbeat plus one reap (about 6 s).
const (
	DefaultPrefix         = "ripple:"
	DefaultHeartbeat      = time.Second
	DefaultDeadline       = 5 * time.Second
	DefaultVerifyInterval = 2 * time.Second
	DefaultTimeout        = 5 * time.Second
	DefaultChannelSize    = 4096
	DefaultSendTimeout    = 5 * time.Second
	DefaultMaxQueue       = 100_000
)

// Errors returned by the package.
var (
	ErrNoURL        = errors.New("cluster: redis URL required")
	ErrNoLocal      = errors.New("cluster: Local required")
	ErrBadNodeID    = errors.New("cluster: node id must be 1-64 characters of [A-Za-z0-9_-]")
	ErrBadDeadline  = errors.New("cluster: Deadline must be at least twice Heartbeat")
	ErrNodeIDInUse  = errors.New("cluster: node id in use by a live node")
	ErrClosed       = errors.New("cluster: node closed")
	ErrBadConnID    = errors.New("cluster: connection id must be <node id>.<suffix> without NUL")
	ErrNotConnected = errors.New("cluster: connection not on this node")
)

// Config configures a Node. Only URL and Local are required; every other
// field documents its default.
type Config struct {
	// URL is the Redis server, redis://[user:password@]host:port[/db].
	URL string
	// Local receives what other nodes ask of this node's connections.
	Local Local
	// NodeID names the node in connection ids, keys and channels. Default:
	// 10 random characters. Two live nodes must not share one.
	NodeID string
	// Prefix is put in front of every Redis key and channel, so several
	// clusters can share one Redis. Default "ripple:".
	Prefix string
	// Heartbeat is how often the node refreshes its heartbeat and looks
	// for dead nodes. Default 1 s.
	Heartbeat time.Duration
	// Deadline is the heartbeat's lifetime: a node silent that long is dead,
	// its connections and presences are removed by the first live node to
	// claim it, and if it was only paused it fences itself and re-announces
	// its connections. At least 2 × Heartbeat. Default 5 s.
	Deadline time.Duration
	// VerifyInterval is how often the node compares the sequence of each
	// channel it follows with Redis, to catch a lost last event. Default 2 s.
	VerifyInterval time.Duration
	// Timeout bounds each Redis round trip made in the background.
	// Default 5 s.
	Timeout time.Duration
	// PresenceMode and MaxStaleRefs are those of presence.Config; every
	// node of a cluster must use the same. Defaults: ModeUser, 32.
	PresenceMode presence.Mode
	MaxStaleRefs int
	// PresenceInterval and PresenceBurst batch each channel's presence
	// messages on this node as presence.Config's Interval and Burst do on
	// a single server: a channel whose events come no faster than one per
	// interval (or Burst of them after a quiet spell) gets each at once;
	// a busier one gets one presence_diff per interval merging every
	// change, and one presence_state for every local connection tracked
	// meanwhile (see "Batches" in the package doc). Default 0: every
	// event at once, one diff each. ripple's JoinCluster sets the
	// interval from the server's Config.PresenceInterval (default 50 ms).
	// PresenceBurst below 1 means presence.DefaultBurst, as on a single
	// server.
	PresenceInterval time.Duration
	PresenceBurst    int
	// ChannelSize is the go-redis pub/sub buffer, in messages. Default 4096.
	ChannelSize int
	// SendTimeout is how long go-redis waits for room in that buffer before
	// it drops a message (a gap the node then detects). Default 5 s.
	SendTimeout time.Duration
	// MaxQueue bounds the Redis writes waiting while Redis is slow or
	// unreachable. Past it, queued room messages and broadcasts are dropped
	// (Stats.Dropped) and queued state writes are replaced by one
	// re-announce of the node from its local records once Redis answers.
	// Default 100000.
	MaxQueue int
	// Logger receives warnings (lost Redis, fencing, reaping). Default
	// slog.Default().
	Logger *slog.Logger
}

// withDefaults returns cfg with defaults filled in, or an error.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.URL == "" {
		return cfg, ErrNoURL
	}
	if cfg.Local == nil {
		return cfg, ErrNoLocal
	}
	if cfg.NodeID == "" {
		cfg.NodeID = randomID(10)
	}
	if !validNodeID(cfg.NodeID) {
		return cfg, ErrBadNodeID
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	if cfg.Deadline < 2*cfg.Heartbeat {
		return cfg, ErrBadDeadline
	}
	if cfg.VerifyInterval <= 0 {
		cfg.VerifyInterval = DefaultVerifyInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxStaleRefs < 1 {
		cfg.MaxStaleRefs = presence.DefaultMaxStaleRefs
	}
	if cfg.ChannelSize <= 0 {
		cfg.ChannelSize = DefaultChannelSize
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

func validNodeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// randomID returns n random characters of [0-9a-z].
func randomID(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
