package presence_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/presence"
)

const phoenixCheckHint = "install Node.js 20+ and run: npm ci --prefix presence/phoenixcheck"

// requirePhoenixCheck returns the node binary, or skips loudly when node or
// the phoenix package is missing.
func requirePhoenixCheck(t *testing.T) string {
	t.Helper()
	skip := func(why string) {
		msg := "SKIPPING the real phoenix.js presence check: " + why + "; " + phoenixCheckHint
		fmt.Fprintln(os.Stderr, "!!! "+msg)
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node not found in PATH")
	}
	if _, err := os.Stat(filepath.Join("phoenixcheck", "node_modules", "phoenix", "package.json")); err != nil {
		skip("presence/phoenixcheck/node_modules/phoenix is missing")
	}
	return node
}

// runPhoenixCheck runs check.js on files and fails the test on a mismatch.
func runPhoenixCheck(t *testing.T, node string, files ...string) {
	t.Helper()
	out, err := phoenixCheck(t, node, files...)
	if err != nil {
		t.Fatalf("phoenixcheck/check.js: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func phoenixCheck(t *testing.T, node string, files ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join("phoenixcheck", "check.js")}, files...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestPhoenixCheckScenario runs a scripted scenario through check.js, with
// the compaction in it, and makes sure check.js notices a wrong
// expectation.
func TestPhoenixCheckScenario(t *testing.T) {
	node := requirePhoenixCheck(t)
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

			f := checkFile{Mode: mode.String(), Expected: r.List(cc.name)}
			for _, id := range []string{"watcher", "a5", "late"} {
				c := checkClient{ID: id}
				for _, m := range cc.clients[id].msgs {
					c.Messages = append(c.Messages, m)
				}
				f.Clients = append(f.Clients, c)
			}
			if len(f.Expected) != 3 {
				t.Fatalf("List %+v, want alice, carol, w", f.Expected)
			}
			good := writeJSON(t, "good.json", f)
			runPhoenixCheck(t, node, good)

			f.Expected = f.Expected[1:] // alice missing
			bad := writeJSON(t, "bad.json", f)
			out, err := phoenixCheck(t, node, bad)
			if err == nil || !strings.Contains(out, "mismatch") {
				t.Fatalf("check.js accepted a wrong expectation: %v\n%s", err, out)
			}
		})
	}
}

func writeJSON(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
