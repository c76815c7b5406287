package clustertest

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

// PhoenixCheckHint is how to install what PhoenixNPM needs.
const PhoenixCheckHint = "install node and run: npm ci --prefix presence/phoenixcheck"

// phoenixClient and phoenixFile are the input of presence/phoenixcheck/check.js.
type phoenixClient struct {
	ID       string            `json:"id"`
	Messages []json.RawMessage `json:"messages"`
}

type phoenixFile struct {
	Mode     string              `json:"mode"`
	Clients  []phoenixClient     `json:"clients"`
	Expected []presence.Presence `json:"expected"`
}

// PhoenixInput is one channel to check: the clients of each sink that
// track there, and List.
type PhoenixInput struct {
	Channel string
	Sinks   []*Sink
	Clients [][]string // per sink
	List    []presence.Presence
}

// PhoenixNPM replays every listed client's presence messages through the
// real phoenix npm package (presence/phoenixcheck/check.js) and fails the
// test unless each ends with List. It skips, loudly, when node or the
// package is missing.
func PhoenixNPM(t *testing.T, mode presence.Mode, inputs []PhoenixInput) {
	t.Helper()
	node, script := phoenixCheck(t)
	dir := t.TempDir()
	var files []string
	for i, in := range inputs {
		f := phoenixFile{Mode: mode.String(), Expected: in.List}
		if f.Expected == nil {
			f.Expected = []presence.Presence{}
		}
		for j, s := range in.Sinks {
			for _, id := range in.Clients[j] {
				c := phoenixClient{ID: id, Messages: []json.RawMessage{}}
				for _, m := range s.Client(id).Presence[in.Channel] {
					c.Messages = append(c.Messages, m)
				}
				f.Clients = append(f.Clients, c)
			}
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, fmt.Sprintf("%d.json", i))
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, append([]string{script}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("phoenixcheck/check.js: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// phoenixCheck finds node and check.js (from the module root) or skips.
func phoenixCheck(t *testing.T) (node, script string) {
	t.Helper()
	skip := func(why string) {
		msg := "SKIPPING the real phoenix.js presence check: " + why + "; " + PhoenixCheckHint
		fmt.Fprintln(os.Stderr, "!!! "+msg)
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node not found in PATH")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			skip("module root not found")
		}
		dir = parent
	}
	check := filepath.Join(dir, "presence", "phoenixcheck")
	if _, err := os.Stat(filepath.Join(check, "node_modules", "phoenix", "package.json")); err != nil {
		skip("presence/phoenixcheck/node_modules/phoenix is missing")
	}
	return node, filepath.Join(check, "check.js")
}
