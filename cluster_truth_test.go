package ripple_test

import (
	"slices"
	"testing"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// TestClusterCloseWithCode closes connections held by other nodes with
// codes of every kind: the clients see the code and the reason given.
func TestClusterCloseWithCode(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2, ripple.Config{})
	A, B := nodes[0], nodes[1]
	for _, tc := range []struct {
		code   uint16
		reason string
	}{{4000, "kicked"}, {1008, "policy"}, {1000, "bye"}, {3001, ""}} {
		c, id := dialID(t, B)
		wstest.Eventually(t, "the connection known on A", func() bool { return slices.Contains(A.Clients(), id) })
		if !A.CloseWith(id, ripple.CloseCode(tc.code), tc.reason) {
			t.Fatalf("CloseWith(%d) of a connection on another node reported it unknown", tc.code)
		}
		if code, reason := wstest.ExpectClose(t, c); code != int(tc.code) || reason != tc.reason {
			t.Errorf("client closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
		}
	}
}
