package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/ripple-rt/ripple/presence"
)

// Node is one Ripple server's membership in a cluster. See the package doc.
type Node struct {
	// Immutable after construction.
	cfg       Config
	id        string
	k         keys
	rdb       *redis.Client
	ps        *redis.PubSub
	msgs      <-chan any
	local     Local
	log       *slog.Logger
	idPrefix  string   // ConnIDPrefix
	hbKey     []string // the KEYS of a script that checks the incarnation: this node's heartbeat
	refPrefix string
	pace      presence.Pacer  // batches presence messages (batch.go)
	ctx       context.Context // cancelled by Close and crash
	cancel    context.CancelFunc
	wake      chan struct{} // executor: the queue has work
	fenceReq  chan struct{} // executor: the heartbeat is gone
	subWake   chan struct{} // subscription manager: subDirty has work
	execStop  chan struct{} // closed by Close: drain the queue and stop
	execDone  chan struct{} // closed when the executor returns
	syncReqs  chan syncReq  // receive goroutine: SyncPresence waiters
	wg        sync.WaitGroup
	closeOnce sync.Once

	ex execState // owned by the executor goroutine

	stats  Stats
	inc    atomic.Pointer[string] // current incarnation; written by the executor
	fenced atomic.Bool            // set while re-announcing
	// forceFence asks the next refence to re-announce even though the
	// heartbeat is alive (the queue overflowed and state writes were lost).
	forceFence atomic.Bool
	refSeq     atomic.Uint64
	msgSeq     atomic.Uint64 // ids of multi-channel room messages
	hbPause    atomic.Bool   // tests: skip heartbeats and reaping, as a paused process would
	// dropEvent, when set (tests), drops the presence events it returns
	// true for, as a full go-redis buffer would.
	dropEvent atomic.Pointer[func(channel, msg string) bool]

	mu sync.Mutex
	// Guarded by mu.
	closed bool
	// What this node told Redis about its connections, replayed after
	// fencing: registrations, memberships and presences, each in a table
	// of its own, so that a connection that only joined a room costs one
	// small entry in two tables (see connTable).
	conns    connTable[connRec]              // local connections by id
	rooms    map[string]*connTable[struct{}] // channel -> its local members; none empty
	tracks   connTable[map[string]*track]    // local presences: id -> channel -> track
	queue    []op                            // Redis work for the executor, in order
	spare    []op                            // an emptied array for the queue, from the executor
	subDirty map[string]struct{}             // channels whose membership crossed zero
}

// connRec is a local connection's registration and its number of
// memberships (which ones the rooms hold). An id with neither has no
// record. Guarded by Node.mu.
type connRec struct {
	rooms     uint32 // channels it is a member of
	connected bool
}

// track is one local presence. Guarded by Node.mu.
type track struct {
	user    string // user key
	extra   []byte // encoded extra fields
	ref     string
	state   string
	meta    []byte // current encoded meta
	pending bool   // the tracker has not had its presence_state yet
}

// New connects to Redis, registers the node under a fresh incarnation and
// starts its goroutines. ctx bounds the start only.
func New(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	opt.DisableIdentity = true
	// Each Redis round trip is bounded by Timeout (go-redis applies these
	// to the socket; a context's deadline it does not).
	opt.ReadTimeout, opt.WriteTimeout = cfg.Timeout, cfg.Timeout
	n := &Node{
		cfg:       cfg,
		id:        cfg.NodeID,
		k:         keys{prefix: cfg.Prefix},
		rdb:       redis.NewClient(opt),
		local:     cfg.Local,
		log:       cfg.Logger.With("node", cfg.NodeID),
		idPrefix:  cfg.NodeID + ".",
		hbKey:     []string{keys{prefix: cfg.Prefix}.hb(cfg.NodeID)},
		refPrefix: cfg.NodeID + "." + randomID(4) + ".",
		pace:      presence.NewPacer(cfg.PresenceInterval, cfg.PresenceBurst),
		wake:      make(chan struct{}, 1),
		fenceReq:  make(chan struct{}, 1),
		subWake:   make(chan struct{}, 1),
		execStop:  make(chan struct{}),
		execDone:  make(chan struct{}),
		syncReqs:  make(chan syncReq),
		rooms:     make(map[string]*connTable[struct{}]),
		subDirty:  make(map[string]struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.start(ctx); err != nil {
		n.cancel()
		if n.ps != nil {
			_ = n.ps.Close()
		}
		_ = n.rdb.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context) error {
	if err := n.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := n.loadScripts(ctx); err != nil {
		return err
	}
	// Subscribe before registering: once other nodes see this one, its
	// directed messages must arrive.
	n.ps = n.rdb.Subscribe(ctx, n.k.nodeTopic(n.id), n.k.allTopic())
	for range 2 {
		m, err := n.ps.Receive(ctx)
		if err != nil {
			return fmt.Errorf("cluster: subscribe: %w", err)
		}
		if _, ok := m.(*redis.Subscription); !ok {
			return fmt.Errorf("cluster: subscribe: unexpected %T", m)
		}
	}
	n.msgs = n.ps.ChannelWithSubscriptions(
		redis.WithChannelSize(n.cfg.ChannelSize),
		redis.WithChannelSendTimeout(n.cfg.SendTimeout),
	)
	if cur, err := n.rdb.HGet(ctx, n.k.nodes(), n.id).Result(); err == nil {
		if err := n.ensureGone(ctx, cur, true); err != nil {
			return err
		}
	} else if !errors.Is(err, redis.Nil) {
		return fmt.Errorf("cluster: %w", err)
	}
	inc := randomID(12)
	ok, err := n.register(ctx, inc)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNodeIDInUse
	}
	n.inc.Store(&inc)
	n.wg.Add(5)
	go n.runExec()
	go n.runHeartbeat()
	go n.runReaper()
	go n.runSubscriptions()
	go n.runReceive()
	return nil
}

// loadScripts makes every script known to Redis (again after a restart).
func (n *Node) loadScripts(ctx context.Context) error {
	for _, s := range scripts.all() {
		if err := s.Load(ctx, n.rdb).Err(); err != nil {
			return fmt.Errorf("cluster: load scripts: %w", err)
		}
	}
	return nil
}

// register starts incarnation inc: its heartbeat key (NX) and its entry in
// nodes. false when a live incarnation holds the heartbeat.
func (n *Node) register(ctx context.Context, inc string) (bool, error) {
	r, err := scripts.register.Run(ctx, n.rdb, []string{n.k.hb(n.id), n.k.nodes()},
		n.id, inc, n.cfg.Deadline.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("cluster: register: %w", err)
	}
	return r == 1, nil
}

// ID is the node id.
func (n *Node) ID() string { return n.id }

// Incarnation is the node's current incarnation; it changes each time the
// node is fenced and re-announces itself.
func (n *Node) Incarnation() string { return *n.inc.Load() }

func (n *Node) owner() string { return owner(n.id, n.Incarnation()) }

// Fenced reports whether the node has found its incarnation dead and is
// re-announcing itself. Local delivery goes on meanwhile; cluster writes
// wait and cluster reads are delayed until it is done.
func (n *Node) Fenced() bool { return n.fenced.Load() }

// Stats returns the node's counters.
func (n *Node) Stats() *Stats { return &n.stats }

// Mode is the presence mode.
func (n *Node) Mode() presence.Mode { return n.cfg.PresenceMode }

// NewConnID returns a new connection id that routes to this node:
// "<node id>.<uuid>".
func (n *Node) NewConnID() string { return n.ConnIDPrefix() + uuid.NewString() }

// ConnIDPrefix is what every id of NewConnID starts with, "<node id>.": the
// engine then makes the ids of its connections itself and keeps each in 16
// bytes (engine.ConnIDPrefixer).
func (n *Node) ConnIDPrefix() string { return n.idPrefix }

// key reads a local connection's id for the node's tables.
func (n *Node) key(connID string) connKey { return keyOf(n.idPrefix, connID) }

// Route returns the node a connection id belongs to and whether that is
// this node. ok is false for an id that names no node.
func Route(connID string) (nodeID string, ok bool) {
	i := strings.IndexByte(connID, '.')
	if i <= 0 || !validNodeID(connID[:i]) || strings.IndexByte(connID, 0) >= 0 {
		return "", false
	}
	return connID[:i], true
}

// Route returns the node connID belongs to and whether it is this one.
func (n *Node) Route(connID string) (nodeID string, local bool) {
	nodeID, _ = Route(connID)
	return nodeID, nodeID == n.id
}

func (n *Node) newRef() string {
	return n.refPrefix + strconv.FormatUint(n.refSeq.Add(1), 36)
}

// Close leaves the cluster cleanly: pending writes are flushed, then the
// node removes its own connections and presences (members elsewhere get
// the leave diffs) and stops. With Redis unreachable it gives up after
// about 2 × Timeout; the other nodes then reap it after Deadline. The Node
// cannot be used afterwards.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		close(n.execStop)
		select {
		case <-n.execDone:
		case <-time.After(n.cfg.Timeout):
			n.cancel() // Redis is away: stop retrying the queued writes
			<-n.execDone
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Timeout)
		defer cancel()
		inc := n.Incarnation()
		if _, e := n.tryReap(ctx, n.id, inc); e != nil {
			err = e
		}
		scripts.forgetHeartbeat.Run(ctx, n.rdb, []string{n.k.hb(n.id)}, inc)
		n.cancel()
		_ = n.ps.Close()
		n.wg.Wait()
		_ = n.rdb.Close()
	})
	return err
}

// crash stops the node as kill -9 would, as far as Redis can tell: no
// cleanup, the heartbeat just stops. Tests only.
func (n *Node) crash() {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		n.cancel()
		_ = n.ps.Close()
		_ = n.rdb.Close()
		n.wg.Wait()
	})
}

// sleep waits d or until the node stops; false when it stopped.
func (n *Node) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}

// signal does a non-blocking send on a 1-buffered channel.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
