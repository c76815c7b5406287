package engine

import (
	"time"

	"github.com/ripple-rt/ripple/codec"
)

// Observer receives the events that counters cannot express; a metrics
// exporter implements it. Methods are called on event loops, so they must be
// cheap and must not block. Config.Observer may be nil.
type Observer interface {
	// QueueDelay is how long a batch of tasks posted to a loop waited before
	// the loop ran it (measured once per batch, for its oldest task).
	QueueDelay(d time.Duration)
	// Closed is called once per WebSocket connection that ends, with the
	// close code the server sent or the client sent first (1006 when the
	// TCP connection just ended).
	Closed(code codec.CloseCode)
	// Rejected is called for every refused upgrade with its HTTP status.
	Rejected(status int)
}

type nopObserver struct{}

func (nopObserver) QueueDelay(time.Duration) {}
func (nopObserver) Closed(codec.CloseCode)   {}
func (nopObserver) Rejected(int)             {}
