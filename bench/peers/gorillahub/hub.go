package gorillahub

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/bench/peers/protocol"
)

// Settings of gorilla's chat example, with the bench protocol's message limit.
const (
	writeWait      = 10 * time.Second
	pongWait       = 60 * time.Second
	pingPeriod     = (pongWait * 9) / 10
	maxMessageSize = 64 << 10
	sendBuffer     = 256
)

type outMsg struct {
	op   int
	data []byte
}

type client struct {
	// Immutable after construction.
	hub  *hub
	conn *websocket.Conn
	room string // channel name, "" outside /ws/room
	send chan outMsg
	done chan struct{} // closed when the write pump exits
}

type fanout struct {
	room string // "" means every connection
	data []byte
}

type hub struct {
	// Owned by the run goroutine; no locks.
	clients map[*client]struct{}
	rooms   map[string]map[*client]struct{}

	// Immutable after construction.
	register   chan *client
	unregister chan *client
	broadcast  chan fanout
}

func newHub() *hub {
	return &hub{
		clients:    map[*client]struct{}{},
		rooms:      map[string]map[*client]struct{}{},
		register:   make(chan *client),
		unregister: make(chan *client),
		broadcast:  make(chan fanout, 256),
	}
}

func (h *hub) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for c := range h.clients {
				c.conn.Close()
			}
			return
		case c := <-h.register:
			h.clients[c] = struct{}{}
			if c.room != "" {
				m := h.rooms[c.room]
				if m == nil {
					m = map[*client]struct{}{}
					h.rooms[c.room] = m
				}
				m[c] = struct{}{}
			}
		case c := <-h.unregister:
			h.drop(c)
		case f := <-h.broadcast:
			set := h.clients
			if f.room != "" {
				set = h.rooms[f.room]
			}
			msg := outMsg{op: websocket.TextMessage, data: f.data}
			for c := range set {
				select {
				case c.send <- msg:
				default:
					h.drop(c)
				}
			}
		}
	}
}

func (h *hub) drop(c *client) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	if m := h.rooms[c.room]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(h.rooms, c.room)
		}
	}
	close(c.send)
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 1024,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// Handler returns the bench protocol's HTTP handler and starts its hub, which
// stops with ctx.
func Handler(ctx context.Context, log *slog.Logger) http.Handler {
	h := newHub()
	go h.run(ctx)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, room := protocol.Match(r.URL.Path)
		if route == protocol.RouteNotFound {
			http.NotFound(w, r)
			return
		}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			log.Debug("upgrade", "err", err)
			return
		}
		c := &client{hub: h, conn: conn, room: room, send: make(chan outMsg, sendBuffer), done: make(chan struct{})}
		select {
		case h.register <- c:
		case <-ctx.Done():
			conn.Close()
			return
		}
		go c.writePump(ctx)
		go c.readPump(ctx, route)
	})
}

// Serve serves the bench protocol on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	srv := &http.Server{Handler: Handler(ctx, log), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (c *client) readPump(ctx context.Context, route protocol.Route) {
	defer func() {
		select {
		case c.hub.unregister <- c:
		case <-ctx.Done():
		}
		c.conn.Close()
	}()
	c.conn.SetReadLimit(maxMessageSize)
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		op, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		switch route {
		case protocol.RouteEcho:
			if !c.reply(ctx, outMsg{op: op, data: msg}) {
				return
			}
		case protocol.RouteShootout:
			reply, all, err := protocol.Shootout(msg)
			if err != nil {
				continue
			}
			if all != nil && !c.fan(ctx, fanout{data: all}) {
				return
			}
			if !c.reply(ctx, outMsg{op: websocket.TextMessage, data: reply}) {
				return
			}
		case protocol.RouteRoom:
			out, err := protocol.Reencode(msg)
			if err != nil {
				if !c.reply(ctx, outMsg{op: websocket.TextMessage, data: protocol.ErrorMessage(err)}) {
					return
				}
				continue
			}
			if !c.fan(ctx, fanout{room: c.room, data: out}) {
				return
			}
		}
	}
}

func (c *client) fan(ctx context.Context, f fanout) bool {
	select {
	case c.hub.broadcast <- f:
		return true
	case <-ctx.Done():
		return false
	}
}

// reply queues a message for this connection only. The send channel may have
// been closed by the hub (slow consumer); then the connection is going away.
func (c *client) reply(ctx context.Context, m outMsg) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	select {
	case c.send <- m:
		return true
	case <-c.done:
		return false
	case <-ctx.Done():
		return false
	}
}

func (c *client) writePump(ctx context.Context) {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
		close(c.done)
	}()
	for {
		select {
		case m, ok := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if !ok {
				_ = c.conn.WriteMessage(websocket.CloseMessage, []byte{})
				return
			}
			if err := c.conn.WriteMessage(m.op, m.data); err != nil {
				return
			}
		case <-ctx.Done():
			return
		case <-ticker.C:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}
