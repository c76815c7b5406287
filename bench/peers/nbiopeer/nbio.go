package nbiopeer

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/ripple-rt/ripple/bench/peers/protocol"
)

type session struct {
	route protocol.Route
	room  string
}

type server struct {
	// Guarded by mu.
	mu    sync.RWMutex
	all   map[*websocket.Conn]struct{}
	rooms map[string]map[*websocket.Conn]struct{}
}

func (s *server) join(c *websocket.Conn, room string) {
	s.mu.Lock()
	s.all[c] = struct{}{}
	if room != "" {
		m := s.rooms[room]
		if m == nil {
			m = map[*websocket.Conn]struct{}{}
			s.rooms[room] = m
		}
		m[c] = struct{}{}
	}
	s.mu.Unlock()
}

func (s *server) leave(c *websocket.Conn) {
	sess, _ := c.Session().(*session)
	s.mu.Lock()
	delete(s.all, c)
	if sess != nil {
		if m := s.rooms[sess.room]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(s.rooms, sess.room)
			}
		}
	}
	s.mu.Unlock()
}

func (s *server) fan(room string, data []byte) {
	s.mu.RLock()
	set := s.all
	if room != "" {
		set = s.rooms[room]
	}
	for c := range set {
		_ = c.WriteMessage(websocket.TextMessage, data)
	}
	s.mu.RUnlock()
}

func (s *server) onMessage(c *websocket.Conn, mt websocket.MessageType, data []byte) {
	sess, _ := c.Session().(*session)
	if sess == nil {
		return
	}
	switch sess.route {
	case protocol.RouteEcho:
		_ = c.WriteMessage(mt, data)
	case protocol.RouteShootout:
		reply, all, err := protocol.Shootout(data)
		if err != nil {
			return
		}
		if all != nil {
			s.fan("", all)
		}
		_ = c.WriteMessage(websocket.TextMessage, reply)
	case protocol.RouteRoom:
		out, err := protocol.Reencode(data)
		if err != nil {
			_ = c.WriteMessage(websocket.TextMessage, protocol.ErrorMessage(err))
			return
		}
		s.fan(sess.room, out)
	}
}

// Serve serves the bench protocol on ln with an nbhttp engine until ctx ends.
func Serve(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	logging.SetLevel(logging.LevelError)
	s := &server{all: map[*websocket.Conn]struct{}{}, rooms: map[string]map[*websocket.Conn]struct{}{}}
	up := websocket.NewUpgrader()
	up.CheckOrigin = func(*http.Request) bool { return true }
	up.MessageLengthLimit = 64 << 10
	up.OnMessage(s.onMessage)
	up.OnClose(func(c *websocket.Conn, _ error) { s.leave(c) })

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, room := protocol.Match(r.URL.Path)
		if route == protocol.RouteNotFound {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			log.Debug("upgrade", "err", err)
			return
		}
		c.SetSession(&session{route: route, room: room})
		s.join(c, room)
	})
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Listen: func(string, string) (net.Listener, error) {
			return ln, nil
		},
		MaxLoad:                 1 << 22,
		ReleaseWebsocketPayload: true,
		IOMod:                   nbhttp.IOModNonBlocking,
		Handler:                 handler,
	})
	if err := engine.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	engine.Stop()
	return nil
}
