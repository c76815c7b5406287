package phoenixcheck

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

// Hint is how to install what the check needs.
const Hint = "install Node.js 20+ and run: npm ci --prefix presence/phoenixcheck"

// File is one input of check.js: one channel, the messages of each client
// in arrival order, and the presences every client must end with.
type File struct {
	Mode     string              `json:"mode"`
	Clients  []Client            `json:"clients"`
	Expected []presence.Presence `json:"expected"`
}

// Client is one connection's presence messages (JSON objects or strings).
type Client struct {
	ID       string            `json:"id"`
	Messages []json.RawMessage `json:"messages"`
}

// Write encodes f into a new file under dir and returns its path.
func Write(t testing.TB, dir, name string, f File) string {
	t.Helper()
	if f.Expected == nil {
		f.Expected = []presence.Presence{}
	}
	for i := range f.Clients {
		if f.Clients[i].Messages == nil {
			f.Clients[i].Messages = []json.RawMessage{}
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Run checks the files and fails the test on a mismatch; it skips the test
// when node or the phoenix package is missing.
func Run(t testing.TB, files ...string) {
	t.Helper()
	out, err := Check(t, files...)
	if err != nil {
		t.Fatalf("phoenixcheck/check.js: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// Check runs check.js on the files and returns its output, with an error
// when a client's view differs from the expected list. It skips the test
// when node or the phoenix package is missing.
func Check(t testing.TB, files ...string) (string, error) {
	t.Helper()
	node, script := locate(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, append([]string{script}, files...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// locate finds node and check.js (from the module root) or skips.
func locate(t testing.TB) (node, script string) {
	t.Helper()
	skip := func(why string) {
		msg := "SKIPPING the real phoenix.js presence check: " + why + "; " + Hint
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
