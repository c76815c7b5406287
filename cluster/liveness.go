package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Liveness. Each incarnation of a node has a heartbeat key hb:<node> whose
// value is the incarnation and whose TTL is Config.Deadline; the heartbeat
// goroutine extends it every Config.Heartbeat while the value is still its
// own. A node whose key is gone (or holds another incarnation) is dead: the
// first live node to SET NX the claim reap:<owner> removes its presences
// (one event per channel, naming exactly the deleted connections), its
// connection and membership sets, and finally its entry in nodes.
//
// Every state-changing script checks the heartbeat first, so a dead
// incarnation can no longer write: a node that was only paused (GC, SIGSTOP,
// a partition) finds out at its next heartbeat or write, is fenced, makes
// sure its old incarnation is reaped (by itself or by whoever claimed it),
// registers a new incarnation and replays its local records.

// reapLease is how long a reaper's claim lasts; a reaper that dies midway
// leaves the rest to whoever claims after it.
func (n *Node) reapLease() time.Duration { return max(30*time.Second, 10*n.cfg.Deadline) }

func (n *Node) runHeartbeat() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	failing := false // log an outage once, not every beat
	for {
		select {
		case <-t.C:
		case <-n.ctx.Done():
			return
		}
		if n.fenced.Load() || n.hbPause.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
		alive, err := scripts.heartbeat.Run(ctx, n.rdb, []string{n.k.hb(n.id)},
			n.Incarnation(), n.cfg.Deadline.Milliseconds()).Int()
		cancel()
		switch {
		case err != nil:
			if !failing && n.ctx.Err() == nil {
				n.log.Warn("cluster: heartbeat failed", "err", err)
			}
			failing = true
			continue
		case alive == 0:
			signal(n.fenceReq)
		}
		if failing {
			n.log.Info("cluster: heartbeat back")
			failing = false
		}
	}
}

func (n *Node) runReaper() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-n.ctx.Done():
			return
		}
		if n.hbPause.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.reapLease())
		if err := n.reapDead(ctx); err != nil && n.ctx.Err() == nil {
			n.log.Warn("cluster: reaper", "err", err)
		}
		cancel()
	}
}

// reapDead reaps every dead incarnation listed in nodes that nobody else
// claimed.
func (n *Node) reapDead(ctx context.Context) error {
	all, err := n.rdb.HGetAll(ctx, n.k.nodes()).Result()
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return nil
	}
	pipe := n.rdb.Pipeline()
	hbs := make(map[string]*redis.StringCmd, len(all))
	for node := range all {
		hbs[node] = pipe.Get(ctx, n.k.hb(node))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for node, inc := range all {
		if hbs[node].Val() == inc {
			continue
		}
		if node == n.id && inc == n.Incarnation() {
			// Our own incarnation died: the executor fences and reaps it.
			signal(n.fenceReq)
			continue
		}
		if won, err := n.tryReap(ctx, node, inc); err != nil {
			return err
		} else if won {
			n.stats.Reaped.Add(1)
			n.log.Info("cluster: reaped dead node", "dead", owner(node, inc))
		}
	}
	return nil
}

// tryReap claims incarnation inc of node and, if the claim is ours, removes
// everything it registered.
func (n *Node) tryReap(ctx context.Context, node, inc string) (bool, error) {
	o := owner(node, inc)
	won, err := n.rdb.SetNX(ctx, n.k.reap(o), n.id, n.reapLease()).Result()
	if err != nil || !won {
		return false, err
	}
	return true, n.reap(ctx, node, inc)
}

// reap removes incarnation inc of node: its presences (leave events), its
// connections and memberships, its entry in nodes. Idempotent.
func (n *Node) reap(ctx context.Context, node, inc string) error {
	o := owner(node, inc)
	chans, err := n.rdb.SMembers(ctx, n.k.presChans(o)).Result()
	if err != nil {
		return err
	}
	for _, ch := range chans {
		err := scripts.untrackOwner.Run(ctx, n.rdb,
			[]string{n.k.entries(ch), n.k.users(ch), n.k.meta(ch), n.k.presOwner(o, ch), n.k.presChans(o)},
			n.k.chanTopic(ch), ch).Err()
		if err != nil {
			return fmt.Errorf("untrack %s in %q: %w", o, ch, err)
		}
	}
	rooms, err := n.rdb.SMembers(ctx, n.k.rooms(o)).Result()
	if err != nil {
		return err
	}
	del := []string{n.k.rooms(o), n.k.conns(o), n.k.presChans(o)}
	for _, ch := range rooms {
		del = append(del, n.k.room(o, ch))
	}
	for len(del) > 0 {
		k := min(len(del), 512)
		if err := n.rdb.Del(ctx, del[:k]...).Err(); err != nil {
			return err
		}
		del = del[k:]
	}
	return scripts.forget.Run(ctx, n.rdb, []string{n.k.nodes()}, node, inc).Err()
}

// ensureGone returns once incarnation inc of this node is no longer listed
// in nodes, reaping it itself when it can claim it. At start (startup) a
// live incarnation may hold the node id: wait for it up to two deadlines,
// then ErrNodeIDInUse.
func (n *Node) ensureGone(ctx context.Context, inc string, startup bool) error {
	giveUp := time.Now().Add(2 * n.cfg.Deadline)
	for {
		cur, err := n.rdb.HGet(ctx, n.k.nodes(), n.id).Result()
		if errors.Is(err, redis.Nil) || err == nil && cur != inc {
			return nil
		}
		if err != nil {
			return err
		}
		hb, err := n.rdb.Get(ctx, n.k.hb(n.id)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if hb == inc {
			if startup && time.Now().After(giveUp) {
				return ErrNodeIDInUse
			}
		} else if won, err := n.tryReap(ctx, n.id, inc); err != nil {
			return err
		} else if won {
			continue
		}
		select {
		case <-time.After(n.cfg.Heartbeat / 4):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// refence runs on the executor when the incarnation is found dead: it
// makes sure the old incarnation is reaped, registers a new one and queues
// the replay of every local record in front of the queue (dropping the
// queued state ops the replay supersedes). false when the node stopped.
func (n *Node) refence() bool {
	old := n.Incarnation()
	forced := n.forceFence.Swap(false)
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	hb, err := n.rdb.Get(ctx, n.k.hb(n.id)).Result()
	cancel()
	if err == nil && hb == old && !forced {
		return true // a stale request: the heartbeat is ours and alive
	}
	n.fenced.Store(true)
	defer n.fenced.Store(false)
	n.stats.Fenced.Add(1)
	n.log.Warn("cluster: incarnation lost, re-announcing", "old", old)
	backoff := 20 * time.Millisecond
	retry := func(err error) bool {
		if n.ctx.Err() == nil {
			n.log.Warn("cluster: fencing", "err", err)
		}
		ok := n.sleep(backoff)
		backoff = min(2*backoff, time.Second)
		return ok
	}
	for {
		ctx, cancel := context.WithTimeout(n.ctx, n.reapLease())
		err := error(nil)
		if forced {
			// Give up the live incarnation, so it can be reaped.
			err = scripts.forgetHeartbeat.Run(ctx, n.rdb, []string{n.k.hb(n.id)}, old).Err()
		}
		if err == nil {
			err = n.ensureGone(ctx, old, false)
		}
		cancel()
		if err == nil {
			break
		}
		if !retry(err) {
			return false
		}
	}
	inc := randomID(12)
	for {
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
		ok, err := n.register(ctx, inc)
		if err == nil && !ok {
			err = ErrNodeIDInUse
		}
		if err == nil {
			_ = n.loadScripts(ctx)
			cancel()
			break
		}
		cancel()
		if !retry(err) {
			return false
		}
	}
	n.mu.Lock()
	n.inc.Store(&inc)
	replay := n.replayOps()
	for _, o := range n.queue {
		if !o.state {
			replay = append(replay, o)
		}
	}
	n.queue = replay
	n.mu.Unlock()
	// Queued FENCED answers of the old incarnation are stale now.
	select {
	case <-n.fenceReq:
	default:
	}
	n.log.Info("cluster: re-announced", "incarnation", inc, "ops", len(replay))
	return true
}
