package route

import (
	"errors"
	"strings"
)

// ErrBadTopic is returned by Topics.Add for a malformed topic pattern.
var ErrBadTopic = errors.New("route: topic pattern must have non-empty ':'-separated segments, params as :name and at most a trailing *")

// Topics maps topic patterns (Phoenix channel topics, such as "room:42") to
// values of type V. A topic is split at ':' as a path is split at '/', and a
// pattern uses the notation of path patterns for its dynamic segments:
//
//	"room::room_id"   matches "room:42" with Params{{"room_id", "42"}}
//	"game::id:moves"  matches "game:7:moves"
//	"echo:*"          matches "echo:a", "echo:a:b" (the rest, any length)
//	"user:*name"      matches "user:ann:phone" with Params{{"name", "ann:phone"}}
//	"lobby"           matches "lobby" only
//
// A dynamic segment is a separator followed by ":name" (hence "room::id":
// the literal "room", the separator, then the param ":id"); it matches one
// non-empty segment. A final "*" matches one or more characters, colons
// included, as Phoenix's "room:*" does; "*name" captures them as name.
// Literal segments win over dynamic ones, and dynamic ones over "*".
//
// The zero value is an empty table ready to use. Add is for setup; Match
// is safe for concurrent use once the table is no longer changed.
type Topics[V any] struct {
	root topicNode[V] // Written by Add before serving; read-only afterwards.
}

type topicNode[V any] struct {
	literal map[string]*topicNode[V]
	param   *topicNode[V] // the ":name" child, if any
	name    string        // parameter name when this node is a param child
	rest    *topicNode[V] // the final "*" child, if any
	value   V
	set     bool
}

// topicSeg is one parsed segment of a topic pattern.
type topicSeg struct {
	kind byte // 'l' literal, 'p' param, 'r' rest
	text string
}

// parseTopic splits a topic pattern into segments.
func parseTopic(pattern string) ([]topicSeg, bool) {
	if pattern == "" {
		return nil, false
	}
	var segs []topicSeg
	for s := pattern; ; {
		var seg string
		var more bool
		if strings.HasPrefix(s, ":") { // a param: ":" name up to the next ':'
			name, tail, ok := strings.Cut(s[1:], ":")
			if name == "" || strings.Contains(name, "*") {
				return nil, false
			}
			segs = append(segs, topicSeg{'p', name})
			if !ok {
				return segs, true
			}
			s = tail
			continue
		}
		seg, s, more = strings.Cut(s, ":")
		switch {
		case strings.HasPrefix(seg, "*"):
			if more || strings.Contains(seg[1:], "*") {
				return nil, false // "*" only at the end
			}
			return append(segs, topicSeg{'r', seg[1:]}), true
		case seg == "" || strings.Contains(seg, "*"):
			return nil, false
		}
		segs = append(segs, topicSeg{'l', seg})
		if !more {
			return segs, true
		}
	}
}

// Add registers pattern with value v. Errors: ErrBadTopic, ErrDuplicate.
func (t *Topics[V]) Add(pattern string, v V) error {
	segs, ok := parseTopic(pattern)
	if !ok {
		return ErrBadTopic
	}
	n := &t.root
	for _, s := range segs {
		switch s.kind {
		case 'p':
			if n.param == nil {
				n.param = &topicNode[V]{name: s.text}
			} else if n.param.name != s.text {
				return ErrBadTopic
			}
			n = n.param
		case 'r':
			if n.rest == nil {
				n.rest = &topicNode[V]{name: s.text}
			} else if n.rest.name != s.text {
				return ErrBadTopic
			}
			n = n.rest
		default:
			if n.literal == nil {
				n.literal = make(map[string]*topicNode[V])
			}
			child := n.literal[s.text]
			if child == nil {
				child = &topicNode[V]{}
				n.literal[s.text] = child
			}
			n = child
		}
	}
	if n.set {
		return ErrDuplicate
	}
	n.value, n.set = v, true
	return nil
}

// ValidTopic reports whether pattern is a well-formed topic pattern.
func ValidTopic(pattern string) bool {
	_, ok := parseTopic(pattern)
	return ok
}

// Match finds the value registered for topic and the dynamic segments it
// captured.
func (t *Topics[V]) Match(topic string) (v V, params Params, ok bool) {
	if topic == "" {
		return v, nil, false
	}
	n := t.match(&t.root, topic, &params)
	if n == nil {
		return v, nil, false
	}
	return n.value, params, true
}

// match walks rest (the topic from a segment start) below n, preferring
// literal children, then the param child, then the rest child.
func (t *Topics[V]) match(n *topicNode[V], rest string, params *Params) *topicNode[V] {
	seg, tail, more := strings.Cut(rest, ":")
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
	if r := n.rest; r != nil && r.set && rest != "" {
		if r.name != "" {
			*params = append(*params, Param{Key: r.name, Value: rest})
		}
		return r
	}
	return nil
}

func (t *Topics[V]) descend(n *topicNode[V], tail string, more bool, params *Params) *topicNode[V] {
	if !more {
		if n.set {
			return n
		}
		return nil
	}
	return t.match(n, tail, params)
}
