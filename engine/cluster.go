package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/codec"
)

// Cluster mode. With a cluster.Node (SetCluster) the engine still does
// everything locally exactly as a single server does, and adds:
//
//   - connection ids from Node.NewConnID, so that every node can route a
//     directed helper (Send, Close, Join, Leave) to the node holding the
//     connection;
//   - the membership hooks: Connected in open, Joined and Left where a
//     channel's member set really changes (under shard.mu: the node's lock
//     is a leaf), Disconnected in OnClose;
//   - PublishRoom and PublishAll beside every local fan-out, so the members
//     on other nodes get the payload; each node compiles its own frame once;
//   - presence through the node's Redis backend instead of the in-memory
//     registry: track, untrack and set_presence queue a change and return,
//     and every presence message, this node's own changes included, comes
//     back through DeliverPresence in the channel's one total order;
//   - cluster-wide Count, Clients, ClientsIn and presence reads, one Redis
//     round trip bounded by clusterTimeout (the counts fall back to the local
//     answer on error).
//
// The node calls the engine through ClusterLocal from its receive goroutine;
// every method only posts work to loops.

// clusterTimeout bounds the Redis round trip of a cluster-wide helper.
const clusterTimeout = 2 * time.Second

// ErrClusterMode is returned by SetCluster when the node cannot serve this
// engine.
var ErrClusterMode = errors.New("engine: cluster node")

// SetCluster makes the engine one node of the cluster n. Call it once,
// after New and before Start; n must have been made with ClusterLocal(e)
// as its Local and the engine's presence mode. The engine does not close
// n: its owner closes it after Shutdown (so that the untracks and leaves
// of the closing connections reach Redis first).
func (e *Engine) SetCluster(n *cluster.Node) error {
	select {
	case <-e.booted:
		return fmt.Errorf("%w: SetCluster after Start", ErrClusterMode)
	default:
	}
	if n == nil {
		return fmt.Errorf("%w: nil node", ErrClusterMode)
	}
	if e.cluster != nil {
		return fmt.Errorf("%w: SetCluster called twice", ErrClusterMode)
	}
	if n.Mode() != e.cfg.PresenceMode {
		return fmt.Errorf("%w: presence mode %s, engine %s", ErrClusterMode, n.Mode(), e.cfg.PresenceMode)
	}
	e.cluster = n
	e.backend = n.Presence()
	return nil
}

// Cluster returns the engine's cluster node, nil for a single server.
func (e *Engine) Cluster() *cluster.Node { return e.cluster }

// ClusterLocal returns e's side of a cluster node, for cluster.Config.Local.
// Calls that arrive before e is started find no connection and do nothing.
func ClusterLocal(e *Engine) cluster.Local { return clusterLocal{e} }

// clusterLocal is the engine's cluster.Local: what other nodes ask of this
// node's connections. The node calls it from one goroutine; every method
// posts to loops and returns.
type clusterLocal struct{ e *Engine }

func (l clusterLocal) Send(id string, binary bool, payload []byte) {
	if c := l.e.conns.get(id); c != nil {
		op := opOf(binary)
		c.sh.post(func() { c.send(op, payload) })
	}
}

func (l clusterLocal) Close(id, reason string) {
	if c := l.e.conns.get(id); c != nil {
		c.sh.post(func() { c.close(codec.CloseNormal, reason, true) })
	}
}

func (l clusterLocal) Join(id, channel string) {
	if c := l.e.conns.get(id); c != nil {
		_ = l.e.join(c, channel)
	}
}

func (l clusterLocal) Leave(id, channel string) {
	if c := l.e.conns.get(id); c != nil {
		_ = l.e.leave(c, channel)
	}
}

func (l clusterLocal) DeliverRoom(channels []string, binary bool, payload []byte) {
	l.e.fanout(channels, newMessage(opOf(binary), payload), nil, nil)
}

func (l clusterLocal) DeliverAll(binary bool, payload []byte) {
	l.e.broadcast(newMessage(opOf(binary), payload), nil)
}

// DeliverPresence sends one presence message of the cluster: the state to
// the tracker (when it is still here), the diff to the channel's members
// here but exclude, through the same publisher a single server uses, so the
// shard queues keep the channel's order.
func (l clusterLocal) DeliverPresence(channel string, state []byte, tracker string, diff []byte, exclude string) {
	var tc *conn
	if state != nil {
		if tc = l.e.conns.get(tracker); tc == nil {
			state = nil
		}
	}
	if state == nil && diff == nil {
		return
	}
	l.e.publisher(channel, tc)(state, diff, exclude)
}

var _ cluster.Local = clusterLocal{}

// clusterCtx bounds one cluster-wide helper.
func clusterCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), clusterTimeout)
}

// remote runs a directed helper for a connection that is not in this
// engine: false without a round trip when the id names this node (the
// connection is gone) or no node at all.
func (e *Engine) remote(id, what string, f func(ctx context.Context) (bool, error)) (bool, error) {
	if e.cluster == nil {
		return false, nil
	}
	if node, local := e.cluster.Route(id); local || node == "" {
		return false, nil
	}
	ctx, cancel := clusterCtx()
	defer cancel()
	ok, err := f(ctx)
	if err != nil {
		e.log.Warn("cluster helper failed", "helper", what, "conn", id, "err", err)
	}
	return ok, err
}
