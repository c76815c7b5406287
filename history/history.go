package history

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors.
var (
	// ErrBadRule is returned by ParseRule for a malformed rule.
	ErrBadRule = errors.New("history: bad rule")
	// ErrBadPosition is returned by ParsePosition for a malformed position.
	ErrBadPosition = errors.New("history: bad position")
	// ErrNoHistory is returned for a channel that no rule gives history.
	ErrNoHistory = errors.New("history: channel has no history")
)

// Position is a place in a channel's history: the offset of a publication
// within an epoch. The zero Offset is the place before the first
// publication.
type Position struct {
	Epoch  string
	Offset uint64
}

// String is the position's text form, "<epoch>:<offset>".
func (p Position) String() string {
	return p.Epoch + ":" + strconv.FormatUint(p.Offset, 10)
}

// AppendText appends p's text form to b.
func (p Position) AppendText(b []byte) []byte {
	b = append(b, p.Epoch...)
	b = append(b, ':')
	return strconv.AppendUint(b, p.Offset, 10)
}

// ParsePosition parses "<epoch>:<offset>".
func ParsePosition(s string) (Position, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return Position{}, fmt.Errorf("%w: %q", ErrBadPosition, s)
	}
	off, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("%w: %q", ErrBadPosition, s)
	}
	return Position{Epoch: s[:i], Offset: off}, nil
}

// Publication is one retained publication. Payload is the message as it
// was published (raw bytes; the engine maps it for Phoenix members).
type Publication struct {
	Offset  uint64
	Binary  bool
	Payload []byte
}

// Options are a channel's history bounds, from its Rule.
type Options struct {
	// Size is how many publications are kept. Zero means DefaultSize.
	Size int
	// TTL is how long each publication is kept, and how long an idle
	// channel's history lives. Zero means DefaultTTL.
	TTL time.Duration
}

// Defaults of Options.
const (
	DefaultSize = 100
	DefaultTTL  = 5 * time.Minute
)

// Normalize returns o with its defaults filled in.
func (o Options) Normalize() Options {
	if o.Size <= 0 {
		o.Size = DefaultSize
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	return o
}

// Result is what Read returns.
type Result struct {
	// Top is the channel's epoch and the offset of its newest publication
	// (0 before the first).
	Top Position
	// Publications are the retained publications asked for, oldest first.
	Publications []Publication
	// Recovered is true when Read was given a position of Top's epoch and
	// every publication after it is still retained: Publications then hold
	// them all (unless the limit cut them). When it is false after a
	// position was given, Publications is empty.
	Recovered bool
}

// Sink receives every publication of the channels a backend delivers to,
// in each channel's offset order. payload is the callee's. A Sink must not
// block and must not call back into the backend: it may be called with a
// channel's lock held.
type Sink interface {
	DeliverPublication(channel string, pos Position, binary bool, payload []byte)
}

// SinkFunc is a function that is a Sink.
type SinkFunc func(channel string, pos Position, binary bool, payload []byte)

// DeliverPublication calls f.
func (f SinkFunc) DeliverPublication(channel string, pos Position, binary bool, payload []byte) {
	f(channel, pos, binary, payload)
}

// Backend numbers and keeps the publications of the channels with history.
//
// Publish appends payload to channel's history and hands it, with its
// position, to the Sink of every server with members of channel (on a
// single server, its own), in offset order. It does not wait for the
// network; payload becomes the backend's.
//
// Read returns channel's top position and its retained publications: after
// since when since is non-nil (see Result.Recovered), else all of them;
// oldest first, at most limit of them when limit > 0 (the oldest), none
// when limit < 0. It sees every publication this server published before
// it. A channel that never had a publication gets its epoch on the first
// Read, so a client that joined an empty channel can recover from offset
// 0. On a cluster, Read first waits until this server follows channel
// (when it has members here), so that a publication either is in the
// result or reaches the Sink after Read returns.
type Backend interface {
	Publish(channel string, opts Options, binary bool, payload []byte)
	Read(ctx context.Context, channel string, opts Options, since *Position, limit int) (Result, error)
}

// Recover computes a Read's result from what a backend retains: top, and
// the retained publications (oldest first, consecutive offsets, the
// expired ones already dropped). It applies since and limit as Backend.Read
// documents. retained is not modified; the result shares it.
func Recover(top Position, retained []Publication, since *Position, limit int) Result {
	res := Result{Top: top}
	pubs := retained
	if since != nil {
		first := top.Offset + 1 // the oldest offset retained
		if len(retained) > 0 {
			first = retained[0].Offset
		}
		if since.Epoch != top.Epoch || since.Offset > top.Offset || since.Offset+1 < first {
			return res
		}
		res.Recovered = true
		if limit >= 0 && len(retained) > 0 {
			pubs = retained[since.Offset+1-first:]
		}
	}
	switch {
	case limit < 0:
		pubs = nil
	case limit > 0 && len(pubs) > limit:
		pubs = pubs[:limit]
	}
	res.Publications = pubs
	return res
}
