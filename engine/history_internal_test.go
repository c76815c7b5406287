package engine

import (
	"encoding/json"
	"testing"

	"github.com/ripple-rt/ripple/history"
)

func TestRecoverParam(t *testing.T) {
	tests := []struct {
		params string
		want   *history.Position
		bad    bool
	}{
		{``, nil, false},
		{`{}`, nil, false},
		{`{"user_id":"ann"}`, nil, false},
		{`{"recover":null}`, nil, false},
		{`[1,2]`, nil, false},
		{`{"recover":{"epoch":"e1","offset":7}}`, &history.Position{Epoch: "e1", Offset: 7}, false},
		{`{"user_id":"a","recover":{"offset":0,"epoch":""}}`, &history.Position{}, false},
		{`{"recover":{"epoch":"e1"}}`, nil, true},
		{`{"recover":{"epoch":1,"offset":2}}`, nil, true},
		{`{"recover":{"epoch":"e","offset":-1}}`, nil, true},
		{`{"recover":{"epoch":"e","offset":1.5}}`, nil, true},
		{`{"recover":"e:1"}`, nil, true},
	}
	for _, tc := range tests {
		got, err := recoverParam([]byte(tc.params))
		if (err != nil) != tc.bad || (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("recoverParam(%s) = %v, %v; want %v, bad %v", tc.params, got, err, tc.want, tc.bad)
		}
	}
}

func TestAppendPosition(t *testing.T) {
	top := history.Position{Epoch: "e1", Offset: 9}
	tests := []struct {
		resp      string
		asked, ok bool
		want      string
	}{
		{``, false, false, `{"epoch":"e1","offset":9}`},
		{`{}`, true, true, `{"epoch":"e1","offset":9,"recovered":true}`},
		{` { "a" : 1 } `, true, false, `{"epoch":"e1","offset":9,"recovered":false,"a" : 1 }`},
		{`"text"`, false, false, `"text"`},
	}
	for _, tc := range tests {
		if got := string(appendPosition([]byte(tc.resp), top, tc.asked, tc.ok)); got != tc.want {
			t.Errorf("appendPosition(%q) = %s, want %s", tc.resp, got, tc.want)
		}
	}
}

// FuzzRecoverParam: any join params are judged without a panic, and any
// JSON response keeps being JSON with the position added.
func FuzzRecoverParam(f *testing.F) {
	for _, s := range []string{`{"recover":{"epoch":"e1","offset":7}}`, `{}`, `{"recover":{"epoch":1}}`, `[]`, `{"a":{"b":[1,2]}}`, `"x"`, `{"recover":{"epoch":"e","offset":1e300}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		if p, err := recoverParam(params); err == nil && p != nil && !json.Valid(params) {
			t.Fatalf("a position from invalid JSON %q", params)
		}
		if json.Valid(params) {
			out := appendPosition(params, history.Position{Epoch: "e\"1", Offset: 3}, true, false)
			if !json.Valid(out) {
				t.Fatalf("response %s became %s", params, out)
			}
		}
	})
}
