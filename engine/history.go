package engine

import (
	"github.com/ripple-rt/ripple/history"
)

// deliverPublication writes a publication of a channel with history to its
// members here. It never writes inline: every loop gets it through its
// FIFO queue, so each loop sees the channel's publications in the order
// the backend delivered them.
func (e *Engine) deliverPublication(channel string, pos history.Position, binary bool, payload []byte) {
	msg := newMessage(opOf(binary), payload)
	msg.pos = &pos
	e.fanout([]string{channel}, msg, nil, nil)
}
