// Package gwspeer is the bench protocol on lxzan/gws, written the way gws's
// own examples are: net/http upgrades, one ReadLoop goroutine per connection,
// rooms in a mutex-guarded map, room and global fanout through gws.Broadcaster
// (each frame encoded once, queued on every member's async write queue).
//
// It is a peer for ripple-bench comparisons, not a product server.
package gwspeer
