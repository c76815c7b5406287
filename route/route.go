package route

import (
	"errors"
	"strings"
)

// Errors returned by Add.
var (
	ErrBadPattern = errors.New("route: pattern must start with / and have non-empty segments")
	ErrDuplicate  = errors.New("route: pattern already registered")
)

// Param is one dynamic segment of a matched path.
type Param struct {
	Key   string
	Value string
}

// Params are the dynamic segments of a matched path, in pattern order. A slice
// (not a map) keeps a connection's footprint small; look values up with Get.
type Params []Param

// Get returns the value of the named segment, or "" when there is none.
func (ps Params) Get(key string) string {
	for _, p := range ps {
		if p.Key == key {
			return p.Value
		}
	}
	return ""
}

// Map returns the params as a map, for encoding as a JSON object.
func (ps Params) Map() map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.Key] = p.Value
	}
	return m
}

// Table maps path patterns to values of type V. The zero value is an empty
// table ready to use.
type Table[V any] struct {
	root node[V] // Written by Add before serving; read-only afterwards.
}

type node[V any] struct {
	literal map[string]*node[V]
	param   *node[V] // the ":name" child, if any
	name    string   // parameter name when this node is a param child
	value   V
	set     bool
}

// Add registers pattern with value v.
func (t *Table[V]) Add(pattern string, v V) error {
	segs, ok := split(pattern)
	if !ok {
		return ErrBadPattern
	}
	n := &t.root
	for _, s := range segs {
		if s == "" || s == ":" {
			return ErrBadPattern
		}
		if s[0] == ':' {
			if n.param == nil {
				n.param = &node[V]{name: s[1:]}
			} else if n.param.name != s[1:] {
				return ErrBadPattern
			}
			n = n.param
			continue
		}
		if n.literal == nil {
			n.literal = make(map[string]*node[V])
		}
		child := n.literal[s]
		if child == nil {
			child = &node[V]{}
			n.literal[s] = child
		}
		n = child
	}
	if n.set {
		return ErrDuplicate
	}
	n.value, n.set = v, true
	return nil
}

// Match finds the value registered for path and the dynamic segments it
// captured. path must not include a query string.
func (t *Table[V]) Match(path string) (v V, params Params, ok bool) {
	if len(path) == 0 || path[0] != '/' {
		return v, nil, false
	}
	n := t.match(&t.root, path[1:], &params)
	if n == nil {
		return v, nil, false
	}
	return n.value, params, true
}

// match walks rest (the path after a slash) below n, preferring literal
// children and backtracking to the param child.
func (t *Table[V]) match(n *node[V], rest string, params *Params) *node[V] {
	seg, tail, more := strings.Cut(rest, "/")
	if child := n.literal[seg]; child != nil && seg != "" {
		if found := t.descend(child, tail, more, params); found != nil {
			return found
		}
	}
	if n.param != nil && seg != "" {
		mark := len(*params)
		*params = append(*params, Param{Key: n.param.name, Value: seg})
		if found := t.descend(n.param, tail, more, params); found != nil {
			return found
		}
		*params = (*params)[:mark]
	}
	return nil
}

func (t *Table[V]) descend(n *node[V], tail string, more bool, params *Params) *node[V] {
	if !more {
		if n.set {
			return n
		}
		return nil
	}
	return t.match(n, tail, params)
}

// split returns the segments of pattern after its leading slash.
func split(pattern string) ([]string, bool) {
	if len(pattern) < 2 || pattern[0] != '/' {
		return nil, false
	}
	return strings.Split(pattern[1:], "/"), true
}
