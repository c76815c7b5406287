package gwspeer

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lxzan/gws"

	"github.com/ripple-rt/ripple/bench/peers/protocol"
)

const (
	sessRoute = "route"
	sessRoom  = "room"
)

type server struct {
	gws.BuiltinEventHandler

	// Guarded by mu.
	mu    sync.RWMutex
	all   map[*gws.Conn]struct{}
	rooms map[string]map[*gws.Conn]struct{}
}

func sessionString(c *gws.Conn, key string) string {
	v, _ := c.Session().Load(key)
	s, _ := v.(string)
	return s
}

func (s *server) OnOpen(c *gws.Conn) {
	room := sessionString(c, sessRoom)
	s.mu.Lock()
	s.all[c] = struct{}{}
	if room != "" {
		m := s.rooms[room]
		if m == nil {
			m = map[*gws.Conn]struct{}{}
			s.rooms[room] = m
		}
		m[c] = struct{}{}
	}
	s.mu.Unlock()
}

func (s *server) OnClose(c *gws.Conn, _ error) {
	room := sessionString(c, sessRoom)
	s.mu.Lock()
	delete(s.all, c)
	if m := s.rooms[room]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(s.rooms, room)
		}
	}
	s.mu.Unlock()
}

func (s *server) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

func (s *server) fan(room string, data []byte) {
	b := gws.NewBroadcaster(gws.OpcodeText, data)
	s.mu.RLock()
	set := s.all
	if room != "" {
		set = s.rooms[room]
	}
	for c := range set {
		_ = b.Broadcast(c)
	}
	s.mu.RUnlock()
	_ = b.Close()
}

func (s *server) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	switch sessionString(c, sessRoute) {
	case "echo":
		_ = c.WriteMessage(m.Opcode, m.Bytes())
	case "shootout":
		reply, all, err := protocol.Shootout(m.Bytes())
		if err != nil {
			return
		}
		if all != nil {
			s.fan("", all)
		}
		_ = c.WriteMessage(gws.OpcodeText, reply)
	case "room":
		out, err := protocol.Reencode(m.Bytes())
		if err != nil {
			_ = c.WriteMessage(gws.OpcodeText, protocol.ErrorMessage(err))
			return
		}
		s.fan(sessionString(c, sessRoom), out)
	}
}

// Handler returns the bench protocol's HTTP handler. When ctx ends, every
// upgraded connection is closed.
func Handler(ctx context.Context, log *slog.Logger) http.Handler {
	s := &server{all: map[*gws.Conn]struct{}{}, rooms: map[string]map[*gws.Conn]struct{}{}}
	go func() {
		<-ctx.Done()
		s.mu.RLock()
		for c := range s.all {
			_ = c.NetConn().Close()
		}
		s.mu.RUnlock()
	}()
	up := gws.NewUpgrader(s, &gws.ServerOption{
		ReadMaxPayloadSize: 64 << 10,
		CheckUtf8Enabled:   true,
		Authorize: func(r *http.Request, sess gws.SessionStorage) bool {
			route, room := protocol.Match(r.URL.Path)
			switch route {
			case protocol.RouteEcho:
				sess.Store(sessRoute, "echo")
			case protocol.RouteShootout:
				sess.Store(sessRoute, "shootout")
			case protocol.RouteRoom:
				sess.Store(sessRoute, "room")
				sess.Store(sessRoom, room)
			default:
				return false
			}
			return true
		},
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route, _ := protocol.Match(r.URL.Path); route == protocol.RouteNotFound {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r)
		if err != nil {
			log.Debug("upgrade", "err", err)
			return
		}
		c.ReadLoop()
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
