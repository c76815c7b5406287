package config

import (
	"errors"
	"fmt"
	"strings"
)

// routeValue is the repeatable -route flag:
//
//	-route /ws/chat=chat
//	-route 'orders::id=http://127.0.0.1:3000/ripple'   (a Phoenix topic)
//	-route '/ws/presence/:room_id=presence,presence-user=jwt'
//	-route '/ws/orders/:id=http://127.0.0.1:3000/ripple,webhook-timeout=2s'
//
// The part after '=' is a built-in handler name or a webhook URL, then
// optional ",key=value" pairs with the keys of a route in the file. A URL
// containing a comma must be given in the file instead.
type routeValue struct {
	p       *[]Route
	touched *bool
}

func (v routeValue) String() string {
	if v.p == nil {
		return ""
	}
	parts := make([]string, 0, len(*v.p))
	for _, r := range *v.p {
		parts = append(parts, r.Path+r.Topic+"="+r.Handler+r.Webhook)
	}
	return strings.Join(parts, " ")
}

func (v routeValue) Set(s string) error {
	r, err := ParseRoute(s)
	if err != nil {
		return err
	}
	if !*v.touched {
		*v.p, *v.touched = nil, true
	}
	*v.p = append(*v.p, r)
	return nil
}

// ErrBadRoute is wrapped by ParseRoute errors.
var ErrBadRoute = errors.New("config: route must be PATTERN=HANDLER or PATTERN=URL[,key=value...]")

// ParseRoute parses the -route flag's PATTERN=TARGET[,key=value...] form. A
// PATTERN that does not start with '/' is a Phoenix topic pattern
// ("room::room_id=room", "orders:*=http://app/hook").
func ParseRoute(s string) (Route, error) {
	pattern, rest, ok := strings.Cut(s, "=")
	pattern = strings.TrimSpace(pattern)
	if !ok || pattern == "" || rest == "" {
		return Route{}, fmt.Errorf("%w: %q", ErrBadRoute, s)
	}
	r := Route{Path: pattern, where: "-route " + pattern}
	if !strings.HasPrefix(pattern, "/") {
		r.Path, r.Topic = "", pattern
	}
	fields := strings.Split(rest, ",")
	target := strings.TrimSpace(fields[0])
	if strings.Contains(target, "://") {
		r.Webhook = target
	} else {
		r.Handler = target
	}
	settings := routeSettings(&r)
	for _, kv := range fields[1:] {
		k, val, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		s, known := lookup(settings, k)
		switch {
		case !ok:
			return Route{}, fmt.Errorf("%w: %q: want key=value", ErrBadRoute, kv)
		case !known || k == "path" || k == "topic" || k == "handler" || k == "webhook":
			return Route{}, fmt.Errorf("%s: %w %q%s", r.where, ErrUnknownKey, k, suggest(settings[4:], k))
		}
		if err := s.value.Set(strings.TrimSpace(val)); err != nil {
			return Route{}, fmt.Errorf("%s: %s: %w", r.where, k, err)
		}
	}
	return r, nil
}
