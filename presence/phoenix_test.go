package presence_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/presence/phoenixcheck"
)

// TestPhoenixCheckScenario runs a scripted scenario through check.js, with
// the compaction in it, and makes sure check.js notices a wrong
// expectation.
func TestPhoenixCheckScenario(t *testing.T) {
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		t.Run("mode="+mode.String(), func(t *testing.T) {
			r := presence.New(presence.Config{Mode: mode, MaxStaleRefs: 2})
			cc := &churnChannel{name: "room", clients: map[string]*churnClient{}}
			do := func(op, conn, user, state string) {
				t.Helper()
				var err error
				switch op {
				case "track":
					err = r.Track(cc.name, conn, user, map[string]any{"conn": conn}, cc.publisher(t, conn))
				case "set":
					err = r.SetState(cc.name, conn, state, cc.publisher(t, ""))
				case "untrack":
					err = r.Untrack(cc.name, conn, cc.publisher(t, ""))
					cc.clients[conn].member = false
				}
				if err != nil {
					t.Fatalf("%s %s: %v", op, conn, err)
				}
			}
			do("track", "watcher", "w", "")
			for i := 0; i < 6; i++ { // alice opens tabs while others join
				do("track", fmt.Sprintf("a%d", i), "alice", "")
				do("track", fmt.Sprintf("b%d", i), "bob", "")
			}
			do("set", "a5", "", "typing")
			for i := 0; i < 5; i++ { // alice closes all but one tab: compaction
				do("untrack", fmt.Sprintf("a%d", i), "", "")
			}
			do("untrack", "b0", "", "")
			do("set", "b1", "", "away")
			for i := 1; i < 6; i++ { // bob leaves for good
				do("untrack", fmt.Sprintf("b%d", i), "", "")
			}
			do("track", "late", "carol", "")

			f := phoenixcheck.File{Mode: mode.String(), Expected: r.List(cc.name)}
			for _, id := range []string{"watcher", "a5", "late"} {
				c := phoenixcheck.Client{ID: id}
				for _, m := range cc.clients[id].msgs {
					c.Messages = append(c.Messages, m)
				}
				f.Clients = append(f.Clients, c)
			}
			if len(f.Expected) != 3 {
				t.Fatalf("List %+v, want alice, carol, w", f.Expected)
			}
			dir := t.TempDir()
			phoenixcheck.Run(t, phoenixcheck.Write(t, dir, "good.json", f))

			f.Expected = f.Expected[1:] // alice missing
			out, err := phoenixcheck.Check(t, phoenixcheck.Write(t, dir, "bad.json", f))
			if err == nil || !strings.Contains(out, "mismatch") {
				t.Fatalf("check.js accepted a wrong expectation: %v\n%s", err, out)
			}
		})
	}
}
