package cluster

// keys names every Redis key and pub/sub channel of one cluster. A channel
// name always comes last in a key so any channel name is safe; node ids and
// owners never contain ':'.
//
// Per node (owner = node id + "@" + incarnation):
//
//	nodes                hash  node id -> live incarnation
//	hb:<node>            string incarnation, PX Deadline (the heartbeat)
//	reap:<owner>         string reaper node id, NX PX reapLease (the claim)
//	oc:<owner>           set   connection ids of the owner
//	or:<owner>           set   channels the owner has members in
//	om:<owner>:<ch>      set   the owner's members of ch
//	opc:<owner>          set   channels the owner has presences in
//	po:<owner>:<ch>      set   the owner's tracked connections in ch
//
// Per channel:
//
//	pe:<ch>   hash conn id -> entry "<pos>\0<user key>\0<meta>"
//	pu:<ch>   hash user key -> number of tracked connections
//	pm:<ch>   hash e (epoch), s (sequence); deleted with the last presence
//	epoch     counter the epochs are drawn from
//
// Per channel with history (see RedisHistory):
//
//	h:<ch>    stream the retained publications, id "<offset>-0", fields
//	               b (binary flag), t (publish time, ms of Redis' clock),
//	               d (payload), in that order; MAXLEN Size, PEXPIRE TTL
//	hm:<ch>   hash   e (epoch), t (top offset), p:<node> (the node's last
//	               publication, "<process>:<seq>", so that one sent twice
//	               counts once); PEXPIRE TTL by every publication and read
//
// The meta hash lives at least as long as the stream (a read extends the
// hash only), and a new epoch deletes what is left of the stream, so the
// stream's offsets are always those of the meta's epoch.
//
// Pub/sub: c:<ch> (room messages, presence events and publications of
// channels with history), n:<node> (directed messages), all (broadcasts).
type keys struct {
	prefix string // Immutable after construction.
}

func owner(node, inc string) string { return node + "@" + inc }

func (k keys) nodes() string                     { return k.prefix + "nodes" }
func (k keys) hb(node string) string             { return k.prefix + "hb:" + node }
func (k keys) reap(owner string) string          { return k.prefix + "reap:" + owner }
func (k keys) conns(owner string) string         { return k.prefix + "oc:" + owner }
func (k keys) rooms(owner string) string         { return k.prefix + "or:" + owner }
func (k keys) room(owner, ch string) string      { return k.prefix + "om:" + owner + ":" + ch }
func (k keys) presChans(owner string) string     { return k.prefix + "opc:" + owner }
func (k keys) presOwner(owner, ch string) string { return k.prefix + "po:" + owner + ":" + ch }
func (k keys) entries(ch string) string          { return k.prefix + "pe:" + ch }
func (k keys) users(ch string) string            { return k.prefix + "pu:" + ch }
func (k keys) meta(ch string) string             { return k.prefix + "pm:" + ch }
func (k keys) epoch() string                     { return k.prefix + "epoch" }
func (k keys) hist(ch string) string             { return k.prefix + "h:" + ch }
func (k keys) histMeta(ch string) string         { return k.prefix + "hm:" + ch }

func (k keys) chanTopic(ch string) string   { return k.prefix + "c:" + ch }
func (k keys) nodeTopic(node string) string { return k.prefix + "n:" + node }
func (k keys) allTopic() string             { return k.prefix + "all" }
