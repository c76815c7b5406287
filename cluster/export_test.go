package cluster

// Test hooks, compiled into the package for its tests only.

// Crash stops the node as kill -9 would, as far as Redis can tell.
func (n *Node) Crash() { n.crash() }

// PauseHeartbeat stops (true) or resumes (false) the heartbeats, as a
// paused process would.
func (n *Node) PauseHeartbeat(p bool) { n.hbPause.Store(p) }

// DropEvents makes the receiver drop the presence events f returns true
// for (nil: none).
func (n *Node) DropEvents(f func(channel, msg string) bool) {
	if f == nil {
		n.dropEvent.Store(nil)
		return
	}
	n.dropEvent.Store(&f)
}
