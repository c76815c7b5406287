package engine_test

import (
	"testing"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// demoRoutes are the demo application's routes (package handlers, on the
// patterns handlers.Register gives them): the traffic most wire tests send
// through the engine. /ws/echo echoes with the same opcode, /ws/room/:room_id
// joins room:<room_id> and sends JSON messages to the room.
func demoRoutes() []engine.Route {
	return []engine.Route{
		{Pattern: "/ws/chat", Handler: handlers.Chat},
		{Pattern: "/ws/room/:room_id", Handler: handlers.Room},
		{Pattern: "/ws/presence/:room_id", Handler: handlers.Presence},
		{Pattern: "/ws/echo", Handler: handlers.Echo},
		{Pattern: "/ws/shootout", Handler: handlers.Shootout},
	}
}

// startDemo runs an engine with cfg, the demo routes and extra on a free
// port until the test ends.
func startDemo(t testing.TB, cfg engine.Config, extra ...engine.Route) *wstest.Engine {
	t.Helper()
	return wstest.StartEngine(t, cfg, append(demoRoutes(), extra...)...)
}

// startScripted runs an engine with wstest.Scripted on /ws/script.
func startScripted(t testing.TB, cfg engine.Config) *wstest.Engine {
	t.Helper()
	return startDemo(t, cfg, engine.Route{Pattern: "/ws/script", Handler: wstest.Scripted})
}
