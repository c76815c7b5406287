package cluster

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// scriptSet holds every Lua script, each with the shared prelude in front.
type scriptSet struct {
	heartbeat, register, forget, forgetHeartbeat *redis.Script
	members                                      *redis.Script
	track, untrack, set, untrackOwner            *redis.Script
	snapshot, position, positions, get, direct   *redis.Script
	clients                                      *redis.Script
	historyPublish, historyRead, historyRange    *redis.Script
}

var scripts = func() *scriptSet {
	prelude := mustRead("prelude")
	load := func(name string) *redis.Script { return redis.NewScript(prelude + mustRead(name)) }
	return &scriptSet{
		heartbeat:       load("heartbeat"),
		register:        load("register"),
		forget:          load("forget"),
		forgetHeartbeat: load("forget_heartbeat"),
		members:         load("members"),
		track:           load("track"),
		untrack:         load("untrack"),
		set:             load("set"),
		untrackOwner:    load("untrack_owner"),
		snapshot:        load("snapshot"),
		position:        load("position"),
		positions:       load("positions"),
		get:             load("get"),
		direct:          load("direct"),
		clients:         load("clients"),
		historyPublish:  load("history_publish"),
		historyRead:     load("history_read"),
		historyRange:    load("history_range"),
	}
}()

func mustRead(name string) string {
	b, err := scriptFS.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic("cluster: missing script " + name)
	}
	return string(b)
}

func (s *scriptSet) all() []*redis.Script {
	return []*redis.Script{s.heartbeat, s.register, s.forget, s.forgetHeartbeat, s.members, s.track,
		s.untrack, s.set, s.untrackOwner, s.snapshot, s.position, s.positions, s.get, s.direct, s.clients,
		s.historyPublish, s.historyRead, s.historyRange}
}
