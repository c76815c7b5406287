package clustertest

import (
	"slices"
	"strconv"
	"sync"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/history/historytest"
)

// Membership is told about local joins and leaves (a cluster.Node).
type Membership interface {
	Joined(connID, channel string)
	Left(connID, channel string)
}

// Sink is a fake engine side of one node: it keeps the node's local
// connections and channel members and records, per connection, everything
// delivered to it. It implements cluster.Local.
type Sink struct {
	mu sync.Mutex
	// Guarded by mu.
	members map[string]map[string]bool // channel -> local conns
	clients map[string]*Client
	hook    Membership

	// History records the publications of channels with history delivered
	// to the node, by channel.
	History *historytest.Recorder
}

// Client is what one local connection received.
type Client struct {
	ID       string
	Presence map[string][][]byte // per channel: presence messages in order
	Room     map[string][][]byte // room messages, under the first channel of theirs the member is in
	All      [][]byte            // broadcasts
	Direct   [][]byte            // Send
	Closed   []string            // Close codes and reasons, as "4000 kicked"
}

// NewSink returns an empty sink.
func NewSink() *Sink {
	return &Sink{members: map[string]map[string]bool{}, clients: map[string]*Client{}, History: historytest.NewRecorder()}
}

// SetMembership sets who is told about joins and leaves.
func (s *Sink) SetMembership(m Membership) {
	s.mu.Lock()
	s.hook = m
	s.mu.Unlock()
}

func (s *Sink) client(id string) *Client {
	c := s.clients[id]
	if c == nil {
		c = &Client{ID: id, Presence: map[string][][]byte{}, Room: map[string][][]byte{}}
		s.clients[id] = c
	}
	return c
}

// Add makes connID a local connection (without channels).
func (s *Sink) Add(connID string) {
	s.mu.Lock()
	s.client(connID)
	s.mu.Unlock()
}

// Join makes local connection connID a member of channel.
func (s *Sink) Join(connID, channel string) {
	s.mu.Lock()
	s.client(connID)
	set := s.members[channel]
	if set == nil {
		set = map[string]bool{}
		s.members[channel] = set
	}
	added := !set[connID]
	set[connID] = true
	hook := s.hook
	s.mu.Unlock()
	if added && hook != nil {
		hook.Joined(connID, channel)
	}
}

// Leave removes connID from channel.
func (s *Sink) Leave(connID, channel string) {
	s.mu.Lock()
	removed := s.members[channel][connID]
	delete(s.members[channel], connID)
	hook := s.hook
	s.mu.Unlock()
	if removed && hook != nil {
		hook.Left(connID, channel)
	}
}

// Members returns the local members of channel, sorted.
func (s *Sink) Members(channel string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.members[channel] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Client returns a copy of what connID received (nil if unknown).
func (s *Sink) Client(connID string) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[connID]
	if c == nil {
		return nil
	}
	cp := &Client{ID: c.ID, Presence: map[string][][]byte{}, Room: map[string][][]byte{},
		All: slices.Clone(c.All), Direct: slices.Clone(c.Direct), Closed: slices.Clone(c.Closed)}
	for k, v := range c.Presence {
		cp.Presence[k] = slices.Clone(v)
	}
	for k, v := range c.Room {
		cp.Room[k] = slices.Clone(v)
	}
	return cp
}

// Clients returns the ids of the local connections, sorted.
func (s *Sink) Clients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// DeliverPresence implements presence.Sink like the engine: state to the
// trackers that are local, diff to every local member but the trackers.
func (s *Sink) DeliverPresence(channel string, state []byte, trackers []string, diff []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state != nil {
		for _, id := range trackers {
			if c := s.clients[id]; c != nil {
				c.Presence[channel] = append(c.Presence[channel], state)
			}
		}
	}
	if diff != nil {
		for id := range s.members[channel] {
			if !slices.Contains(trackers, id) {
				c := s.clients[id]
				c.Presence[channel] = append(c.Presence[channel], diff)
			}
		}
	}
}

func (s *Sink) Send(connID string, _ bool, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[connID]; c != nil {
		c.Direct = append(c.Direct, payload)
	}
}

func (s *Sink) Close(connID string, code codec.CloseCode, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[connID]; c != nil {
		c.Closed = append(c.Closed, strconv.Itoa(int(code))+" "+reason)
	}
}

// DeliverRoom writes payload once to every local member of channels,
// recorded under the first of them the member is in.
func (s *Sink) DeliverRoom(channels []string, _ bool, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	done := map[string]bool{}
	for _, ch := range channels {
		for id := range s.members[ch] {
			if !done[id] {
				done[id] = true
				c := s.clients[id]
				c.Room[ch] = append(c.Room[ch], payload)
			}
		}
	}
}

func (s *Sink) DeliverAll(_ bool, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		c.All = append(c.All, payload)
	}
}

// DeliverPublication records the publication in s.History.
func (s *Sink) DeliverPublication(channel string, pos history.Position, binary bool, payload []byte) {
	s.History.DeliverPublication(channel, pos, binary, payload)
}

var _ cluster.Local = (*Sink)(nil)
