package cluster

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ripple-rt/ripple/codec"
)

// Hooks the engine calls for its own connections. They record the change
// locally and queue the Redis write; none waits for Redis. Calls for one
// connection must come in the order the changes happen (the engine makes
// them on the connection's loop, or under the lock that orders them).

// Connected registers local connection connID cluster-wide (Count, Clients,
// and directed messages to it).
func (n *Node) Connected(connID string) {
	k := n.key(connID)
	n.mu.Lock()
	defer n.mu.Unlock()
	rec, _ := n.conns.get(k)
	if rec.connected {
		return
	}
	rec.connected = true
	n.conns.put(k, rec)
	n.enqueue(connOp(connID, "c+"))
}

// Disconnected removes local connection connID everywhere: its presences
// (untracked as by Untrack), its memberships and its registration.
func (n *Node) Disconnected(connID string) {
	k := n.key(connID)
	n.mu.Lock()
	defer n.mu.Unlock()
	if trs, ok := n.tracks.get(k); ok {
		for ch := range trs {
			n.enqueue(n.untrackOp(ch, connID))
		}
		n.tracks.del(k)
	}
	rec, ok := n.conns.get(k)
	if !ok {
		return
	}
	if rec.rooms > 0 {
		// The engine leaves every channel before it disconnects, so this
		// walk over the channels is for other callers only.
		for ch := range n.rooms {
			n.leftLocked(k, connID, ch)
		}
	}
	if rec.connected {
		n.enqueue(connOp(connID, "c-"))
	}
	n.conns.del(k)
}

// Joined records that local connection connID became a member of channel.
// The channel's first local member subscribes the node to it.
func (n *Node) Joined(connID, channel string) {
	k := n.key(connID)
	n.mu.Lock()
	defer n.mu.Unlock()
	set := n.rooms[channel]
	if set == nil {
		set = new(connTable[struct{}])
		n.rooms[channel] = set
		n.subDirty[channel] = struct{}{}
		signal(n.subWake)
	} else if set.has(k) {
		return
	}
	set.put(k, struct{}{})
	rec, _ := n.conns.get(k)
	rec.rooms++
	n.conns.put(k, rec)
	n.enqueue(roomOp(connID, channel, "r+"))
}

// Left records that local connection connID left channel. The channel's
// last local member unsubscribes the node.
func (n *Node) Left(connID, channel string) {
	k := n.key(connID)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leftLocked(k, connID, channel)
}

// leftLocked removes connID, read as k, from channel if it is a member.
func (n *Node) leftLocked(k connKey, connID, channel string) {
	set := n.rooms[channel]
	if set == nil || !set.has(k) {
		return
	}
	set.del(k)
	if set.len() == 0 {
		delete(n.rooms, channel)
		n.subDirty[channel] = struct{}{}
		signal(n.subWake)
	}
	rec, _ := n.conns.get(k)
	if rec.rooms--; rec.rooms == 0 && !rec.connected {
		n.conns.del(k)
	} else {
		n.conns.put(k, rec)
	}
	n.enqueue(roomOp(connID, channel, "r-"))
}

// isMember reports whether channel has local members.
func (n *Node) isMember(channel string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rooms[channel] != nil
}

// connOp registers ("c+") or unregisters ("c-") connID in Redis.
func connOp(connID, what string) op {
	return op{state: true, member: member{what: what, conn: connID}}
}

// roomOp adds ("r+") or removes ("r-") connID as a member of channel in
// Redis.
func roomOp(connID, channel, what string) op {
	return op{state: true, member: member{what: what, conn: connID, channel: channel}}
}

// replayOps returns the writes that announce every local record again.
// Call with n.mu held.
func (n *Node) replayOps() []op {
	var ops []op
	n.conns.all(n.idPrefix, func(id string, rec connRec) {
		if rec.connected {
			ops = append(ops, connOp(id, "c+"))
		}
	})
	for ch, set := range n.rooms {
		set.all(n.idPrefix, func(id string, _ struct{}) {
			ops = append(ops, roomOp(id, ch, "r+"))
		})
	}
	n.tracks.all(n.idPrefix, func(id string, trs map[string]*track) {
		for ch, t := range trs {
			ops = append(ops, n.trackOp(ch, id, t.user, t.meta))
		}
	})
	return ops
}

// Fan-out to other nodes. The publishing node delivers to its own members
// itself (it skips its own messages when they come back from Redis).

// PublishRoom sends payload to the members of channels on every other node
// (Local.DeliverRoom there), each member once even when it is in several of
// them, as the engine's own fan-out does. It does not wait.
func (n *Node) PublishRoom(channels []string, binary bool, payload []byte) {
	switch len(channels) {
	case 0:
		return
	case 1:
		n.publish(n.k.chanTopic(channels[0]), encodeFields(kindRoom, []byte(n.id), binFlag(binary), payload))
		return
	}
	list, err := jsonAPI.Marshal(channels)
	if err != nil {
		return // unreachable: a []string always encodes
	}
	id := []byte(n.id + "." + strconv.FormatUint(n.msgSeq.Add(1), 36))
	msg := encodeFields(kindRooms, id, binFlag(binary), list, payload)
	n.stats.Published.Add(1)
	n.mu.Lock()
	for _, ch := range channels {
		topic := n.k.chanTopic(ch)
		n.enqueue(op{add: func(p redis.Pipeliner, _ string) redis.Cmder {
			return p.Publish(n.ctx, topic, msg)
		}})
	}
	n.mu.Unlock()
}

// PublishAll sends payload to every connection of every other node
// (Local.DeliverAll there). It does not wait.
func (n *Node) PublishAll(binary bool, payload []byte) {
	msg := encodeFields(kindAll, []byte(n.id), binFlag(binary), payload)
	n.publish(n.k.allTopic(), msg)
}

func (n *Node) publish(topic string, msg []byte) {
	n.stats.Published.Add(1)
	n.mu.Lock()
	n.enqueue(op{add: func(p redis.Pipeliner, _ string) redis.Cmder {
		return p.Publish(n.ctx, topic, msg)
	}})
	n.mu.Unlock()
}

// Directed helpers: they act on a connection of any node. For a connection
// of this node they call Local directly. They wait for Redis (one round trip
// behind this node's queued writes) and report whether the connection
// exists.

// Send writes payload to connection connID.
func (n *Node) Send(ctx context.Context, connID string, binary bool, payload []byte) (bool, error) {
	return n.direct(ctx, connID, func() { n.local.Send(connID, binary, payload) },
		encodeFields(kindSend, binFlag(binary), []byte(connID), payload))
}

// CloseConn closes connection connID with code and reason.
func (n *Node) CloseConn(ctx context.Context, connID string, code codec.CloseCode, reason string) (bool, error) {
	return n.direct(ctx, connID, func() { n.local.Close(connID, code, reason) },
		encodeFields(kindClose, []byte(connID), strconv.AppendUint(nil, uint64(code), 10), []byte(reason)))
}

// Join makes connection connID a member of channel.
func (n *Node) Join(ctx context.Context, connID, channel string) (bool, error) {
	return n.direct(ctx, connID, func() { n.local.Join(connID, channel) },
		encodeFields(kindJoin, []byte(connID), []byte(channel)))
}

// Leave removes connection connID from channel.
func (n *Node) Leave(ctx context.Context, connID, channel string) (bool, error) {
	return n.direct(ctx, connID, func() { n.local.Leave(connID, channel) },
		encodeFields(kindLeave, []byte(connID), []byte(channel)))
}

func (n *Node) direct(ctx context.Context, connID string, here func(), msg []byte) (bool, error) {
	node, ok := Route(connID)
	if !ok {
		return false, ErrBadConnID
	}
	if node == n.id {
		k := n.key(connID)
		n.mu.Lock()
		rec, _ := n.conns.get(k)
		known := rec.connected
		n.mu.Unlock()
		if known {
			here()
		}
		return known, nil
	}
	c, err := n.read(ctx, func(p redis.Pipeliner, _ string) redis.Cmder {
		return scripts.direct.EvalSha(n.ctx, p, []string{n.k.nodes()},
			n.k.prefix, node, connID, n.k.nodeTopic(node), msg)
	})
	if err != nil {
		return false, err
	}
	v, err := c.(*redis.Cmd).Int()
	return v == 1, err
}

// Cluster-wide reads. They count the live incarnations only (a node is out
// as soon as its deadline passes, before it is reaped) and see every write
// this node queued before them.

// Count is the number of connections in the cluster.
func (n *Node) Count(ctx context.Context) (int, error) {
	c, err := n.clients(ctx, "count", "")
	if err != nil {
		return 0, err
	}
	return c.Int()
}

// CountIn is the number of members of channel in the cluster.
func (n *Node) CountIn(ctx context.Context, channel string) (int, error) {
	c, err := n.clients(ctx, "count_in", channel)
	if err != nil {
		return 0, err
	}
	return c.Int()
}

// Clients returns the ids of every connection in the cluster.
func (n *Node) Clients(ctx context.Context) ([]string, error) {
	c, err := n.clients(ctx, "all", "")
	if err != nil {
		return nil, err
	}
	return c.StringSlice()
}

// ClientsIn returns the ids of the members of channel in the cluster.
func (n *Node) ClientsIn(ctx context.Context, channel string) ([]string, error) {
	c, err := n.clients(ctx, "in", channel)
	if err != nil {
		return nil, err
	}
	return c.StringSlice()
}

func (n *Node) clients(ctx context.Context, what, channel string) (*redis.Cmd, error) {
	c, err := n.read(ctx, func(p redis.Pipeliner, _ string) redis.Cmder {
		return scripts.clients.EvalSha(n.ctx, p, []string{n.k.nodes()}, n.k.prefix, what, channel)
	})
	if err != nil {
		return nil, err
	}
	return c.(*redis.Cmd), nil
}

// validConnID reports whether id can travel in messages (no NUL).
func validConnID(id string) bool { return id != "" && !strings.ContainsRune(id, 0) }
