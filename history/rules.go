package history

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rule gives history to the channels matching Pattern: a name, or a prefix
// followed by "*" ("room:*" matches every channel starting with "room:").
type Rule struct {
	Pattern string
	Options Options
}

// ParseRule parses "<pattern>=<size>,<ttl>" ("room:*=100,5m"); size and
// ttl may be left out ("room:*", "room:*=100") for their defaults.
func ParseRule(s string) (Rule, error) {
	pat, bounds, _ := strings.Cut(s, "=")
	if pat == "" || strings.Contains(strings.TrimSuffix(pat, "*"), "*") {
		return Rule{}, fmt.Errorf("%w: %q: want <pattern>=<size>,<ttl>, the pattern a name or a prefix and *", ErrBadRule, s)
	}
	r := Rule{Pattern: pat}
	if bounds == "" {
		r.Options = r.Options.Normalize()
		return r, nil
	}
	size, ttl, hasTTL := strings.Cut(bounds, ",")
	n, err := strconv.Atoi(size)
	if err != nil || n <= 0 {
		return Rule{}, fmt.Errorf("%w: %q: size %q is not a positive number", ErrBadRule, s, size)
	}
	r.Options.Size = n
	if hasTTL {
		d, err := time.ParseDuration(ttl)
		if err != nil || d <= 0 {
			return Rule{}, fmt.Errorf("%w: %q: ttl %q is not a positive duration", ErrBadRule, s, ttl)
		}
		r.Options.TTL = d
	}
	r.Options = r.Options.Normalize()
	return r, nil
}

// String is the rule in ParseRule's form.
func (r Rule) String() string {
	return fmt.Sprintf("%s=%d,%s", r.Pattern, r.Options.Size, r.Options.TTL)
}

// Matches reports whether channel matches the rule's pattern.
func (r Rule) Matches(channel string) bool {
	if p, ok := strings.CutSuffix(r.Pattern, "*"); ok {
		return strings.HasPrefix(channel, p)
	}
	return channel == r.Pattern
}

// Rules are a server's history rules; the first that matches a channel
// wins. The zero value gives no channel history.
type Rules []Rule

// Match returns the options of the first rule matching channel.
func (rs Rules) Match(channel string) (Options, bool) {
	for _, r := range rs {
		if r.Matches(channel) {
			return r.Options, true
		}
	}
	return Options{}, false
}
