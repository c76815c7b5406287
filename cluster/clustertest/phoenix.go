package clustertest

import (
	"fmt"
	"testing"

	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/presence/phoenixcheck"
)

// PhoenixInput is one channel to check: the clients of each sink that
// track there, and List.
type PhoenixInput struct {
	Channel string
	Sinks   []*Sink
	Clients [][]string // per sink
	List    []presence.Presence
}

// PhoenixNPM replays every listed client's presence messages through the
// real phoenix npm package (package phoenixcheck) and fails the test unless
// each ends with List. It skips, loudly, when node or the package is missing.
func PhoenixNPM(t *testing.T, mode presence.Mode, inputs []PhoenixInput) {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for i, in := range inputs {
		f := phoenixcheck.File{Mode: mode.String(), Expected: in.List}
		for j, s := range in.Sinks {
			for _, id := range in.Clients[j] {
				c := phoenixcheck.Client{ID: id}
				for _, m := range s.Client(id).Presence[in.Channel] {
					c.Messages = append(c.Messages, m)
				}
				f.Clients = append(f.Clients, c)
			}
		}
		files = append(files, phoenixcheck.Write(t, dir, fmt.Sprintf("%d.json", i), f))
	}
	phoenixcheck.Run(t, files...)
}
