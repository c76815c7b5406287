package ripple

import (
	"context"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/route"
)

// Types of the public API; see their packages for the details.
type (
	Config      = engine.Config
	Event       = engine.Event
	EventType   = engine.EventType
	Handler     = engine.Handler
	Reply       = engine.Reply
	Track       = engine.Track
	SetPresence = engine.SetPresence
	Stats       = engine.Stats
	Request     = codec.Request
	Reject      = codec.Reject
	CloseCode   = codec.CloseCode
	Credentials = engine.Credentials
	Params      = route.Params
	Presence    = presence.Presence
	// Position is a place in a channel's history ("<epoch>:<offset>").
	Position = history.Position
	// HistoryResult is what History returns.
	HistoryResult = history.Result
	// HistoryRule gives the channels matching its pattern a history
	// (Config.History).
	HistoryRule = history.Rule
	Meta        = presence.Meta
	// ClusterConfig configures cluster mode (see JoinCluster and package
	// cluster); only URL is required.
	ClusterConfig = cluster.Config
)

// ChannelReply is a channel handler's phx_reply (Reply.Reply).
type ChannelReply = engine.ChannelReply

// Event types.
const (
	Connect    = engine.Connect
	Message    = engine.Message
	Disconnect = engine.Disconnect
)

// CloseTokenExpired is the close code of a connection whose credentials
// expired (Config.Authenticate).
const CloseTokenExpired = codec.CloseTokenExpired

// Presence modes.
const (
	PresenceByUser       = presence.ModeUser
	PresenceByConnection = presence.ModeConnection
)

// Errors the helpers return.
var (
	ErrUnknownConn = engine.ErrUnknownConn
	ErrConnClosed  = engine.ErrConnClosed
	ErrNoChannel   = engine.ErrNoChannel
	// ErrOnLoop: a Context helper called on an event loop would have had to
	// wait for another node (see engine's helpers.go for what each answers).
	ErrOnLoop = engine.ErrOnLoop
	// ErrUnavailable: a helper needed the other nodes of a cluster (Redis)
	// and got no answer in time; a read then returns this node's answer
	// (counts, client lists) or none (presence).
	ErrUnavailable = engine.ErrUnavailable
)

// Server is a Ripple server: routes, connections, channels and presence.
type Server struct {
	e    *engine.Engine // Immutable after New.
	node *cluster.Node  // Set by JoinCluster, before Start; nil on a single server.
}

// JoinCluster makes s one node of a cluster of servers sharing the Redis
// server at cfg.URL: rooms, broadcasts, the helpers and presence then work
// across every node (see package cluster). Call it once, after New and
// before Start; ctx bounds the connection to Redis. cfg.Local,
// cfg.PresenceMode and cfg.PresenceInterval are set from s (every node
// must use the same Config PresenceMode; each batches its members'
// presence messages as a single server would, see Config.PresenceInterval);
// a nil cfg.Logger becomes the server's. Shutdown leaves the cluster after
// the last connection is closed.
func (s *Server) JoinCluster(ctx context.Context, cfg ClusterConfig) error {
	ecfg := s.e.Config()
	cfg.Local = s.e.Inbound()
	cfg.PresenceMode = ecfg.PresenceMode
	cfg.PresenceInterval = max(ecfg.PresenceInterval, 0) // negative: off
	if cfg.Logger == nil {
		cfg.Logger = ecfg.Logger
	}
	n, err := cluster.New(ctx, cfg)
	if err != nil {
		return err
	}
	if err := s.e.UseCluster(n, n.Presence()); err != nil {
		_ = n.Close()
		return err
	}
	if err := s.e.UseHistory(n.History()); err != nil {
		_ = n.Close()
		return err
	}
	s.node = n
	return nil
}

// A Node is the engine's Broker (making ids of the form ConnIDPrefixer
// describes) and its RedisPresence a presence Backend.
var (
	_ engine.Broker         = (*cluster.Node)(nil)
	_ engine.ConnIDPrefixer = (*cluster.Node)(nil)
	_ presence.Backend      = (*cluster.RedisPresence)(nil)
	_ history.Backend       = (*cluster.RedisHistory)(nil)
)

// Node returns the server's cluster node (for its id, Fenced and Stats),
// nil unless JoinCluster succeeded.
func (s *Server) Node() *cluster.Node { return s.node }

// New returns a Server configured by cfg; the zero Config works.
func New(cfg Config) *Server { return &Server{e: engine.New(cfg)} }

// RouteOption changes how a route runs.
type RouteOption func(*engine.Route)

// Workers runs the route's handler on the bounded worker pool instead of the
// event loop, for handlers that block. Each connection's events still arrive
// one at a time and in order.
func Workers() RouteOption { return func(r *engine.Route) { r.Workers = true } }

// RateLimit sets the route's inbound rate limits, messages and bytes per
// second (see Config.MaxMessagesPerSecond): zero keeps the server's,
// negative means none on this route.
func RateLimit(messagesPerSecond, bytesPerSecond int) RouteOption {
	return func(r *engine.Route) {
		r.MaxMessagesPerSecond, r.MaxBytesPerSecond = messagesPerSecond, bytesPerSecond
	}
}

// OnActionError makes f hear about every reply of the route's handler whose
// actions could not all be applied (a set_presence on a channel the
// connection does not track, ...), with the connection's id, the event
// answered and the error; they are logged either way. f runs on the event
// loop and must not block.
func OnActionError(f func(connID string, event EventType, err error)) RouteOption {
	return func(r *engine.Route) { r.ActionError = f }
}

// TokenRefresh makes the route accept refresh messages,
// {"type":"refresh","token":"..."}, that renew the connection's credentials
// through Config.Refresh before they expire; they do not reach the handler.
func TokenRefresh() RouteOption { return func(r *engine.Route) { r.Refresh = true } }

// Handle registers h for pattern ("/ws/chat", "/ws/room/:room_id"). Call it
// before Start.
func (s *Server) Handle(pattern string, h Handler, opts ...RouteOption) error {
	r := engine.Route{Pattern: pattern, Handler: h}
	for _, o := range opts {
		o(&r)
	}
	return s.e.Handle(r)
}

// Channel registers h as the Phoenix channel handler of the topics matching
// pattern: "room::room_id" (a param, as in route patterns, after the ':'
// separator), "echo:*" (any rest). Phoenix clients (phoenix.js's
// new Socket("/socket")) then connect at Config.PhoenixPath. The handler
// gets the same events as a route's: a join is a Connect (Message holds
// the join params; answer Reply: ReplyError(reason) to refuse it), each
// pushed event a Message (Name is the event, Message its payload; answer
// Reply to reply), and the channel's end one Disconnect. Its topic is a
// channel like any other: raw and Phoenix members share its messages and
// presence, and every action works as on a route. Call it before Start.
func (s *Server) Channel(pattern string, h Handler, opts ...RouteOption) error {
	r := engine.Route{Pattern: pattern, Handler: h}
	for _, o := range opts {
		o(&r)
	}
	return s.e.HandleChannel(r)
}

// ReplyOK is an ok phx_reply with response (JSON; nil means {}).
func ReplyOK(response []byte) *ChannelReply { return engine.ReplyOK(response) }

// ReplyError is an error phx_reply {"reason": reason}; answering a join,
// it refuses it.
func ReplyError(reason string) *ChannelReply { return engine.ReplyError(reason) }

// ChannelMessage is the raw form of a channel event, {"event":E,"payload":P}:
// sent with BroadcastRoom (or any helper), Phoenix members of the channel
// get event E with payload P, raw members this text. payload is one JSON
// value; nil means {}.
func ChannelMessage(event string, payload []byte) []byte {
	return engine.ChannelMessage(event, payload)
}

// Start listens on addr (port 0 picks a free port) and serves in the
// background. It returns once connections are accepted.
func (s *Server) Start(addr string) error { return s.e.Start(addr) }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.e.Addr() }

// Shutdown drains the server: every connection gets close 1001, every
// disconnect event runs, then the loops stop. See engine.Engine.Shutdown.
// A cluster node then leaves the cluster: its queued changes reach Redis
// and what is left of it is removed at once (the other nodes' members get
// the leave diffs now rather than after the node's deadline).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.e.Shutdown(ctx)
	if n := s.node; n != nil {
		if cerr := n.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Done is closed once the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.e.Done() }

// ListenAndServe starts the server on addr and serves until SIGINT or
// SIGTERM, then shuts down gracefully within ten seconds.
func (s *Server) ListenAndServe(addr string) error {
	if err := s.Start(addr); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-s.Done():
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats { return s.e.Stats() }

// Send sends a text message to one connection; false if it is unknown.
func (s *Server) Send(id string, msg []byte) bool { return s.e.Send(id, msg) }

// Broadcast sends a text message to every connection and returns how many
// there are (of the whole cluster in cluster mode: one Redis round trip
// after the message is sent; this node's on an event loop or when Redis
// does not answer).
func (s *Server) Broadcast(msg []byte) int { return s.e.Broadcast(msg) }

// BroadcastRoom sends a text message to every member of channel and returns
// how many there are (of the whole cluster in cluster mode, as Broadcast).
func (s *Server) BroadcastRoom(channel string, msg []byte) int {
	return s.e.BroadcastRoom(channel, msg)
}

// Count is the number of open connections (of the whole cluster in
// cluster mode).
func (s *Server) Count() int { return s.e.Count() }

// LocalCount is the number of open connections of this server alone.
func (s *Server) LocalCount() int { return s.e.LocalCount() }

// Join adds connection id to channel.
func (s *Server) Join(id, channel string) error { return s.e.Join(id, channel) }

// Leave removes connection id from channel.
func (s *Server) Leave(id, channel string) error { return s.e.Leave(id, channel) }

// Clients returns every open connection's id (cluster-wide in cluster mode).
func (s *Server) Clients() []string { return s.e.Clients() }

// ClientsIn returns the ids of channel's members (cluster-wide in cluster
// mode).
func (s *Server) ClientsIn(channel string) []string { return s.e.ClientsIn(channel) }

// Close closes connection id with code 1000 and reason; false if unknown.
func (s *Server) Close(id, reason string) bool { return s.e.Close(id, reason) }

// CloseWith closes connection id with code and reason; false if unknown.
func (s *Server) CloseWith(id string, code codec.CloseCode, reason string) bool {
	return s.e.CloseWith(id, code, reason)
}

// Presence returns the in-memory presence registry (for metrics and
// inspection); in cluster mode presences live in Redis and it stays empty.
func (s *Server) Presence() *presence.Registry { return s.e.Presence() }

// ListPresence returns the users present in channel.
func (s *Server) ListPresence(channel string) []Presence { return s.e.ListPresence(channel) }

// PresenceCount is the number of unique users present in channel.
func (s *Server) PresenceCount(channel string) int { return s.e.PresenceCount(channel) }

// GetPresence returns one user's presence in channel.
func (s *Server) GetPresence(channel, userID string) (Presence, bool) {
	return s.e.GetPresence(channel, userID)
}

// The Context forms of the helpers wait for the other nodes of a cluster
// at most until ctx ends (the plain forms: 2 s). On an event loop (a
// handler of a route without Workers) no helper waits for another node:
// counts and client lists answer for this node, a directed helper for a
// connection of another node is sent in the background, and presence reads
// from Redis return ErrOnLoop. A handler that needs the cluster's answer
// runs with Workers.

// SendContext is Send waiting for another node at most until ctx ends.
func (s *Server) SendContext(ctx context.Context, id string, msg []byte) (bool, error) {
	return s.e.SendContext(ctx, id, msg)
}

// BroadcastContext is Broadcast waiting for the cluster's count at most
// until ctx ends; on error (ErrUnavailable) the count is this node's.
func (s *Server) BroadcastContext(ctx context.Context, msg []byte) (int, error) {
	return s.e.BroadcastContext(ctx, msg)
}

// BroadcastRoomContext is BroadcastRoom waiting for the cluster's count at
// most until ctx ends; on error (ErrUnavailable) the count is this node's.
func (s *Server) BroadcastRoomContext(ctx context.Context, channel string, msg []byte) (int, error) {
	return s.e.BroadcastRoomContext(ctx, channel, msg)
}

// CountContext is Count waiting for the cluster at most until ctx ends.
func (s *Server) CountContext(ctx context.Context) (int, error) { return s.e.CountContext(ctx) }

// ClientsContext is Clients waiting for the cluster at most until ctx ends.
func (s *Server) ClientsContext(ctx context.Context) ([]string, error) {
	return s.e.ClientsContext(ctx)
}

// ClientsInContext is ClientsIn waiting for the cluster at most until ctx
// ends.
func (s *Server) ClientsInContext(ctx context.Context, channel string) ([]string, error) {
	return s.e.ClientsInContext(ctx, channel)
}

// JoinContext is Join waiting for another node at most until ctx ends.
func (s *Server) JoinContext(ctx context.Context, id, channel string) error {
	return s.e.JoinContext(ctx, id, channel)
}

// LeaveContext is Leave waiting for another node at most until ctx ends.
func (s *Server) LeaveContext(ctx context.Context, id, channel string) error {
	return s.e.LeaveContext(ctx, id, channel)
}

// CloseContext is CloseWith waiting for another node at most until ctx
// ends.
func (s *Server) CloseContext(ctx context.Context, id string, code codec.CloseCode, reason string) (bool, error) {
	return s.e.CloseContext(ctx, id, code, reason)
}

// ListPresenceContext is ListPresence waiting at most until ctx ends.
func (s *Server) ListPresenceContext(ctx context.Context, channel string) ([]Presence, error) {
	return s.e.ListPresenceContext(ctx, channel)
}

// PresenceCountContext is PresenceCount waiting at most until ctx ends.
func (s *Server) PresenceCountContext(ctx context.Context, channel string) (int, error) {
	return s.e.PresenceCountContext(ctx, channel)
}

// GetPresenceContext is GetPresence waiting at most until ctx ends.
func (s *Server) GetPresenceContext(ctx context.Context, channel, userID string) (Presence, bool, error) {
	return s.e.GetPresenceContext(ctx, channel, userID)
}

// History reads a channel's history: its epoch and top offset, and the
// retained publications after since (all of them when since is nil), oldest
// first, at most limit when limit > 0. With since, Recovered says whether
// every publication after it was still retained (if not, none is returned:
// the caller should reload its state). A channel that no Config.History
// rule matches fails with history.ErrNoHistory; a cluster that does not
// answer before ctx ends, with ErrUnavailable.
func (s *Server) History(ctx context.Context, channel string, since *Position, limit int) (HistoryResult, error) {
	return s.e.History(ctx, channel, since, limit)
}

// HistoryStats is what the server keeps of channel history in memory (zero
// in cluster mode: the history is in Redis).
func (s *Server) HistoryStats() history.MemoryStats { return s.e.HistoryStats() }

// DecodeReply parses actions in the seed's dict format
// ({"join": "room:1", "send": "hi", "track": {...}}); see engine.DecodeReply.
func DecodeReply(data []byte) (Reply, error) { return engine.DecodeReply(data) }
