package history_test

import (
	"errors"
	"testing"

	"github.com/ripple-rt/ripple/history"
)

// FuzzParse: positions and rules either parse and print back to what
// parses the same, or fail with the package's errors.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"abc12345-1:42", "e:0", ":1", "e:", "a:b:3", "room:*=100,5m", "news=3,1s", "room:*", "x=0", "a*b=1,1s", "*=1,1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := history.ParsePosition(s); err == nil {
			q, err := history.ParsePosition(p.String())
			if err != nil || q != p {
				t.Fatalf("%q: %v printed %q parses as %v, %v", s, p, p.String(), q, err)
			}
		} else if !errors.Is(err, history.ErrBadPosition) {
			t.Fatalf("%q: %v", s, err)
		}
		if r, err := history.ParseRule(s); err == nil {
			q, err := history.ParseRule(r.String())
			if err != nil || q != r {
				t.Fatalf("%q: %v printed %q parses as %v, %v", s, r, r.String(), q, err)
			}
			if r.Options.Size <= 0 || r.Options.TTL <= 0 {
				t.Fatalf("%q: bounds %+v", s, r.Options)
			}
		} else if !errors.Is(err, history.ErrBadRule) {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
