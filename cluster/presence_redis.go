package cluster

import (
	"context"
	"strconv"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/ripple-rt/ripple/presence"
)

// RedisPresence is the presence.Backend of a Node: presences live in Redis,
// changed by Lua scripts that bump the channel's sequence and publish the
// event in one step; every node following the channel turns the events into
// presence_state and presence_diff messages for its own members (see view).
//
// Track, Untrack and SetState record the change in the node and queue the
// script; they never wait for Redis. The connection must be a local member
// of the channel (Node.Joined) for its node to follow the channel and
// deliver the tracker's presence_state.
type RedisPresence struct {
	n *Node // Immutable after construction.
}

var _ presence.Backend = (*RedisPresence)(nil)

// Presence returns the node's presence backend.
func (n *Node) Presence() *RedisPresence { return &RedisPresence{n: n} }

func (r *RedisPresence) Track(channel, connID, userID string, meta map[string]any) error {
	n := r.n
	switch {
	case channel == "":
		return presence.ErrNoChannel
	case connID == "":
		return presence.ErrNoConnID
	case !validConnID(connID):
		return ErrBadConnID
	case userID == "":
		return presence.ErrNoUserID
	case !utf8.ValidString(userID):
		return presence.ErrBadUserID
	}
	state, extra, err := presence.SplitMeta(meta)
	if err != nil {
		return err
	}
	user := userKey(userID)
	ref := n.newRef()
	m := presence.AppendMeta(nil, ref, "", state, extra)
	k := n.key(connID)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	trs, _ := n.tracks.get(k)
	if trs[channel] != nil {
		return presence.ErrAlreadyTracked
	}
	if trs == nil {
		trs = make(map[string]*track, 1)
		n.tracks.put(k, trs)
	}
	trs[channel] = &track{user: user, extra: extra, ref: ref, state: state, meta: m, pending: true}
	n.enqueue(n.trackOp(channel, connID, user, m))
	return nil
}

func (r *RedisPresence) Untrack(channel, connID string) error {
	n := r.n
	k := n.key(connID)
	n.mu.Lock()
	defer n.mu.Unlock()
	trs, _ := n.tracks.get(k)
	if trs[channel] == nil {
		return presence.ErrNotTracked
	}
	if delete(trs, channel); len(trs) == 0 {
		n.tracks.del(k)
	}
	n.enqueue(n.untrackOp(channel, connID))
	return nil
}

func (r *RedisPresence) SetState(channel, connID, state string) error {
	n := r.n
	if state == "" {
		return presence.ErrBadState
	}
	var ref string
	move := n.cfg.PresenceMode == presence.ModeConnection
	if move {
		ref = n.newRef()
	}
	k := n.key(connID)
	n.mu.Lock()
	defer n.mu.Unlock()
	trs, _ := n.tracks.get(k)
	t := trs[channel]
	if t == nil {
		return presence.ErrNotTracked
	}
	if move {
		t.meta = presence.AppendMeta(nil, ref, t.ref, state, t.extra)
		t.ref = ref
	} else {
		t.meta = presence.AppendMeta(nil, t.ref, "", state, t.extra)
	}
	t.state = state
	n.enqueue(n.setOp(channel, connID, t.meta, move))
	return nil
}

func (r *RedisPresence) List(ctx context.Context, channel string) ([]presence.Presence, error) {
	n := r.n
	c, err := n.read(ctx, func(p redis.Pipeliner, _ string) redis.Cmder {
		return p.HGetAll(n.ctx, n.k.entries(channel))
	})
	if err != nil {
		return nil, err
	}
	m := c.(*redis.MapStringStringCmd).Val()
	es := make([]entry, 0, len(m))
	for conn, v := range m {
		if e, ok := parseEntry(conn, v); ok {
			es = append(es, e)
		}
	}
	return decodePresences(es)
}

func (r *RedisPresence) Count(ctx context.Context, channel string) (int, error) {
	n := r.n
	c, err := n.read(ctx, func(p redis.Pipeliner, _ string) redis.Cmder {
		return p.HLen(n.ctx, n.k.users(channel))
	})
	if err != nil {
		return 0, err
	}
	return int(c.(*redis.IntCmd).Val()), nil
}

func (r *RedisPresence) Get(ctx context.Context, channel, userID string) (presence.Presence, bool, error) {
	n := r.n
	c, err := n.read(ctx, func(p redis.Pipeliner, _ string) redis.Cmder {
		return scripts.get.EvalSha(n.ctx, p, []string{n.k.entries(channel)}, userKey(userID))
	})
	if err != nil {
		return presence.Presence{}, false, err
	}
	flat, err := c.(*redis.Cmd).StringSlice()
	if err != nil {
		return presence.Presence{}, false, err
	}
	es := make([]entry, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		if e, ok := parseEntry(flat[i], flat[i+1]); ok {
			es = append(es, e)
		}
	}
	ps, err := decodePresences(es)
	if err != nil || len(ps) == 0 {
		return presence.Presence{}, false, err
	}
	return ps[0], true, nil
}

// Sync returns once this node has delivered every event of channel that
// Redis had published when it was called (after this node's own queued
// writes). It returns at once when the node does not follow the channel.
func (r *RedisPresence) Sync(ctx context.Context, channel string) error {
	n := r.n
	if !n.isMember(channel) {
		return nil
	}
	c, err := n.read(ctx, func(p redis.Pipeliner, _ string) redis.Cmder {
		return scripts.position.EvalSha(n.ctx, p, []string{n.k.meta(channel), n.k.epoch()})
	})
	if err != nil {
		return err
	}
	vals, err := c.(*redis.Cmd).StringSlice()
	if err != nil || len(vals) != 3 {
		return err
	}
	at := parsePos([]any{vals[0], vals[1]})
	newest, _ := strconv.ParseUint(vals[2], 10, 64)
	req := syncReq{channel: channel, at: at, newest: newest, done: make(chan struct{})}
	select {
	case n.syncReqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return ErrClosed
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return ErrClosed
	}
}

func (n *Node) trackOp(channel, connID, user string, meta []byte) op {
	return op{state: true, add: func(p redis.Pipeliner, inc string) redis.Cmder {
		o := owner(n.id, inc)
		return scripts.track.EvalSha(n.ctx, p, []string{
			n.k.hb(n.id), n.k.entries(channel), n.k.users(channel), n.k.meta(channel),
			n.k.presOwner(o, channel), n.k.presChans(o), n.k.epoch(),
		}, inc, n.k.chanTopic(channel), connID, user, meta, channel)
	}}
}

func (n *Node) untrackOp(channel, connID string) op {
	return op{state: true, add: func(p redis.Pipeliner, inc string) redis.Cmder {
		o := owner(n.id, inc)
		return scripts.untrack.EvalSha(n.ctx, p, []string{
			n.k.hb(n.id), n.k.entries(channel), n.k.users(channel), n.k.meta(channel),
			n.k.presOwner(o, channel), n.k.presChans(o),
		}, inc, n.k.chanTopic(channel), connID, channel)
	}}
}

func (n *Node) setOp(channel, connID string, meta []byte, move bool) op {
	mv := "0"
	if move {
		mv = "1"
	}
	return op{state: true, add: func(p redis.Pipeliner, inc string) redis.Cmder {
		return scripts.set.EvalSha(n.ctx, p, []string{n.k.hb(n.id), n.k.entries(channel), n.k.meta(channel)},
			inc, n.k.chanTopic(channel), connID, meta, mv)
	}}
}
