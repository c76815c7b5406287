package centrifugepeer

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/centrifugal/centrifuge"
)

// Path is where the WebSocket handler is mounted.
const Path = "/connection/websocket"

// PresencePrefix starts the names of the channels with presence.
const PresencePrefix = "presence:"

// EchoMethod is the RPC method that answers with its request's data.
const EchoMethod = "echo"

// NewNode returns a running Node with the handlers of the package doc.
func NewNode(log *slog.Logger) (*centrifuge.Node, error) {
	node, err := centrifuge.New(centrifuge.Config{
		LogLevel: centrifuge.LogLevelError,
		LogHandler: func(e centrifuge.LogEntry) {
			log.Error(e.Message, "fields", e.Fields)
		},
	})
	if err != nil {
		return nil, err
	}
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			var opts centrifuge.SubscribeOptions
			if strings.HasPrefix(e.Channel, PresencePrefix) {
				opts.EmitPresence, opts.EmitJoinLeave, opts.PushJoinLeave = true, true, true
			}
			cb(centrifuge.SubscribeReply{Options: opts}, nil)
		})
		c.OnPublish(func(_ centrifuge.PublishEvent, cb centrifuge.PublishCallback) {
			cb(centrifuge.PublishReply{}, nil)
		})
		c.OnRPC(func(e centrifuge.RPCEvent, cb centrifuge.RPCCallback) {
			if e.Method != EchoMethod {
				cb(centrifuge.RPCReply{}, centrifuge.ErrorMethodNotFound)
				return
			}
			cb(centrifuge.RPCReply{Data: e.Data}, nil)
		})
		c.OnPresence(func(_ centrifuge.PresenceEvent, cb centrifuge.PresenceCallback) {
			cb(centrifuge.PresenceReply{}, nil)
		})
	})
	if err := node.Run(); err != nil {
		return nil, err
	}
	return node, nil
}

// auth puts the credentials of the query parameter user into the request's
// context, where centrifuge looks for them.
func auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred := &centrifuge.Credentials{UserID: r.URL.Query().Get("user")}
		h.ServeHTTP(w, r.WithContext(centrifuge.SetCredentials(r.Context(), cred)))
	})
}

// Handler returns the HTTP handler of node: its WebSocket handler on Path,
// 404 elsewhere.
func Handler(node *centrifuge.Node) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Path, auth(centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{})))
	return mux
}

// Serve serves centrifuge on ln until ctx ends; then the node shuts down
// (every client disconnected) and the listener closes.
func Serve(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	node, err := NewNode(log)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: Handler(node), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = node.Shutdown(sctx)
		srv.Close()
	}()
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
