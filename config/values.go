package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Every setting is a flag.Value: the command line and the YAML file go
// through the same Set, so they accept the same spellings and fail with the
// same messages.

// stringValue is a string, optionally restricted to a set of choices.
type stringValue struct {
	p       *string
	choices []string // empty: any string
}

func (v stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v stringValue) Set(s string) error {
	if len(v.choices) > 0 {
		s = strings.ToLower(strings.TrimSpace(s))
		ok := false
		for _, c := range v.choices {
			ok = ok || c == s
		}
		if !ok {
			return fmt.Errorf("%q is not one of %s", s, strings.Join(v.choices, ", "))
		}
	}
	*v.p = s
	return nil
}

// intValue is an int at least min.
type intValue struct {
	p   *int
	min int
}

func (v intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if n < v.min {
		return fmt.Errorf("%d is below the minimum %d", n, v.min)
	}
	*v.p = n
	return nil
}

// sizeValue is a positive byte count: 65536, 64KiB, 1MiB, 1GiB; with zero,
// 0 (or "off") too.
type sizeValue struct {
	p    *int
	zero bool
}

func (v sizeValue) String() string {
	if v.p == nil {
		return "0"
	}
	return FormatSize(*v.p)
}

func (v sizeValue) Set(s string) error {
	if t := strings.TrimSpace(s); v.zero && (t == "0" || t == "off") {
		*v.p = 0
		return nil
	}
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// limitOff is a route's "no limit" before Resolve (0 there means unset).
const limitOff = -1

// limitValue is a route's rate limit: a positive number (a size, with
// size), or 0 or "off" for none on the route.
type limitValue struct {
	p    *int
	size bool
}

func (v limitValue) String() string {
	switch {
	case v.p == nil:
		return ""
	case *v.p == limitOff:
		return "off"
	case v.size:
		return FormatSize(*v.p)
	}
	return strconv.Itoa(*v.p)
}

func (v limitValue) Set(s string) error {
	if t := strings.TrimSpace(s); t == "0" || t == "off" {
		*v.p = limitOff
		return nil
	}
	if v.size {
		return sizeValue{p: v.p}.Set(s)
	}
	return intValue{p: v.p, min: 1}.Set(s)
}

// ErrBadSize is wrapped by ParseSize errors.
var ErrBadSize = errors.New("config: invalid size (want bytes, or a number with KiB, MiB or GiB)")

// ParseSize parses a positive byte count: a whole number of bytes or one
// followed by KiB, MiB or GiB ("64KiB", "1 MiB"). Units are binary; "KB" and
// "MB" are refused rather than guessed.
func ParseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 || n > (1<<31-1)/mult {
		return 0, fmt.Errorf("%w: %q", ErrBadSize, s)
	}
	return n * mult, nil
}

// FormatSize is the shortest spelling ParseSize reads back to n (0 for 0).
func FormatSize(n int) string {
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n > 0 && n%u.mult == 0 {
			return strconv.Itoa(n/u.mult) + u.suffix
		}
	}
	return strconv.Itoa(n)
}

// durationValue is a Go duration ("10s", "1m30s"); "0" is accepted only
// when zero means something for the setting ("off").
type durationValue struct {
	p         *time.Duration
	allowZero bool
}

func (v durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v durationValue) Set(s string) error {
	t := strings.TrimSpace(s)
	if t == "off" && v.allowZero {
		t = "0"
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return fmt.Errorf("%q is not a duration (like 10s, 500ms, 1m)", s)
	}
	switch {
	case d < 0:
		return fmt.Errorf("%q is negative", s)
	case d == 0 && !v.allowZero:
		return fmt.Errorf("%q: must be more than zero", s)
	}
	*v.p = d
	return nil
}

// boolValue is true or false; set, when not nil, records that it was given.
type boolValue struct {
	p   *bool
	set *bool
}

func (v boolValue) String() string {
	if v.p == nil {
		return "false"
	}
	return strconv.FormatBool(*v.p)
}

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.p = b
	if v.set != nil {
		*v.set = true
	}
	return nil
}

// IsBoolFlag lets "-name" stand for "-name=true".
func (boolValue) IsBoolFlag() bool { return true }

// listValue is a comma-separated list or, with whole, a list whose every
// Set adds one item whole (a history rule has a comma of its own). The
// first Set of a parse replaces the list (a flag overrides the file's
// list); later ones append.
type listValue struct {
	p       *[]string
	touched *bool
	whole   bool
}

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	if v.whole {
		return strings.Join(*v.p, " ")
	}
	return strings.Join(*v.p, ",")
}

func (v listValue) Set(s string) error {
	if !*v.touched {
		*v.p, *v.touched = nil, true
	}
	items := []string{s}
	if !v.whole {
		items = strings.Split(s, ",")
	}
	for _, item := range items {
		if item = strings.TrimSpace(item); item != "" {
			*v.p = append(*v.p, item)
		}
	}
	return nil
}
