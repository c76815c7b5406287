package target_test

import (
	"errors"
	"testing"

	"github.com/ripple-rt/ripple/bench/target"
)

func TestPackage(t *testing.T) {
	cases := []struct {
		name, dir, pkg string
	}{
		{"ripple", ".", "./cmd/ripple"},
		{"gorilla", "bench/peers", "./cmd/gorilla"},
		{"gws", "bench/peers", "./cmd/gws"},
		{"nbio", "bench/peers", "./cmd/nbio"},
		{"centrifuge", "bench/peers", "./cmd/centrifuge"},
		{"socketio", "bench/peers/socketio", "server.js"},
	}
	for _, tc := range cases {
		dir, pkg, err := target.Package(tc.name)
		if err != nil || dir != tc.dir || pkg != tc.pkg {
			t.Errorf("Package(%q) = %q, %q, %v; want %q, %q", tc.name, dir, pkg, err, tc.dir, tc.pkg)
		}
	}
	if _, _, err := target.Package("nope"); !errors.Is(err, target.ErrUnknown) {
		t.Errorf("Package(nope): %v, want ErrUnknown", err)
	}
}

func TestDialect(t *testing.T) {
	want := map[string]string{"ripple": "bench", "gorilla": "bench", "gws": "bench", "nbio": "bench", "centrifuge": "centrifuge", "socketio": "socketio"}
	for _, name := range target.Names {
		if got := target.Dialect(name); got != want[name] {
			t.Errorf("Dialect(%q) = %q, want %q", name, got, want[name])
		}
	}
}
