package engine

import "sync/atomic"

// Stats are the engine's counters since start, safe to read from any
// goroutine.
type Stats struct {
	Accepted      atomic.Int64 // TCP connections accepted
	Upgraded      atomic.Int64 // WebSocket upgrades completed
	Rejected      atomic.Int64 // upgrades refused with a 4xx
	HTTPRequests  atomic.Int64 // connections handed to net/http
	MessagesIn    atomic.Int64
	BytesIn       atomic.Int64
	FramesOut     atomic.Int64 // fan-out frames written, one per recipient
	BytesOut      atomic.Int64 // bytes of those frames
	Broadcasts    atomic.Int64 // broadcast and broadcast_room fan-outs
	Compressions  atomic.Int64 // fan-out messages compressed (once each)
	SlowConsumers atomic.Int64 // connections closed for not reading
	RateLimited   atomic.Int64 // connections closed for sending over their rate limit
	Panics        atomic.Int64 // handler panics recovered
	FlushYields   atomic.Int64 // times a flush ran out of budget and left the loop behind (writeBudget)

	ChannelJoins    atomic.Int64 // Phoenix channel joins accepted
	ChannelsRefused atomic.Int64 // Phoenix channel joins refused by their handler

	HistoryPublished   atomic.Int64 // publications handed to the history backend
	HistoryRecovered   atomic.Int64 // Phoenix joins that recovered
	HistoryUnrecovered atomic.Int64 // Phoenix joins that asked to recover and could not
	HistoryReplayed    atomic.Int64 // publications replayed to recovering joins
	ChannelFloods      atomic.Int64 // Phoenix connections closed for a join flood
	LongPolls          atomic.Int64 // long-poll sessions opened
}
