package engine_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// testToken is "<user>:<expiry in unix milliseconds>", or "<user>:never".
func testToken(user string, expires time.Time) string {
	if expires.IsZero() {
		return user + ":never"
	}
	return fmt.Sprintf("%s:%d", user, expires.UnixMilli())
}

// parseTestToken is the Authenticate and Refresh hooks of these tests.
func parseTestToken(token string) (engine.Credentials, error) {
	user, exp, ok := strings.Cut(token, ":")
	if !ok || user == "" {
		return engine.Credentials{}, errors.New("malformed token")
	}
	if exp == "never" {
		return engine.Credentials{User: user}, nil
	}
	ms, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return engine.Credentials{}, errors.New("malformed token")
	}
	if t := time.UnixMilli(ms); t.After(time.Now()) {
		return engine.Credentials{User: user, Expires: t}, nil
	}
	return engine.Credentials{}, errors.New("token expired")
}

// TestTokenExpiry: a connection is closed with 4001 "token expired" once
// its credentials expire, not before, unless a refresh message on a route
// that accepts them renews them; a refresh with a bad token, another
// user's, or none is answered with an error and changes nothing; on other
// routes a refresh message is an ordinary message.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	cfg := engine.Config{
		CloseTimeout: 200 * time.Millisecond, // timers swept every 50 ms
		Authenticate: func(r *codec.Request) (engine.Credentials, error) {
			return parseTestToken(r.Query().Get("token"))
		},
		Refresh: parseTestToken,
	}
	s := startDemo(t, cfg, engine.Route{Pattern: "/ws/renew", Handler: handlers.Echo, Refresh: true})
	dial := func(t *testing.T, path, token string) *wstest.Client {
		return s.Dial(t, path+"?token="+token)
	}
	echo := func(t *testing.T, c *wstest.Client, msg string) {
		t.Helper()
		wstest.Send(t, c, msg)
		expectMessage(t, c, msg)
	}
	refresh := func(t *testing.T, c *wstest.Client, token string) map[string]any {
		t.Helper()
		wstest.Send(t, c, `{"type":"refresh","token":"`+token+`"}`)
		return wstest.ReadJSON(t, c)
	}

	t.Run("expires", func(t *testing.T) {
		t.Parallel()
		expires := time.Now().Add(400 * time.Millisecond)
		c := dial(t, "/ws/echo", testToken("ann", expires))
		code, reason := wstest.ExpectClose(t, c)
		if at := time.Now(); code != 4001 || reason != "token expired" || at.Before(expires) {
			t.Fatalf("closed with %d %q %v after the expiry, want 4001 %q after it", code, reason, at.Sub(expires), "token expired")
		}
	})
	t.Run("never", func(t *testing.T) {
		t.Parallel()
		c := dial(t, "/ws/echo", testToken("ann", time.Time{}))
		wstest.ExpectSilence(t, c, time.Second)
		echo(t, c, "still here")
	})
	t.Run("refreshed", func(t *testing.T) {
		t.Parallel()
		c := dial(t, "/ws/renew", testToken("ann", time.Now().Add(time.Second)))
		later := time.Now().Add(time.Hour)
		if got := refresh(t, c, testToken("ann", later)); got["type"] != "refresh" || got["expires_at"] != float64(later.Unix()) || got["error"] != nil {
			t.Fatalf("refresh answered %v", got)
		}
		wstest.ExpectSilence(t, c, 1500*time.Millisecond)
		echo(t, c, "renewed")
		// Renewed to credentials that never expire.
		if got := refresh(t, c, testToken("ann", time.Time{})); got["expires_at"] != nil || got["error"] != nil {
			t.Fatalf("refresh to no expiry answered %v", got)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		expires := time.Now().Add(2 * time.Second)
		c := dial(t, "/ws/renew", testToken("ann", expires))
		for token, want := range map[string]string{
			"garbage": "malformed token",
			testToken("bob", time.Now().Add(time.Hour)): "another user",
			"": "token required",
		} {
			if got, _ := refresh(t, c, token)["error"].(string); !strings.Contains(got, want) {
				t.Errorf("refresh with %q answered error %q, want %q", token, got, want)
			}
		}
		if code, _ := wstest.ExpectClose(t, c); code != 4001 || time.Now().Before(expires) {
			t.Fatalf("closed with %d, want 4001 at the first expiry", code)
		}
	})
	t.Run("not a refresh route", func(t *testing.T) {
		t.Parallel()
		c := dial(t, "/ws/echo", testToken("ann", time.Now().Add(time.Hour)))
		echo(t, c, `{"type":"refresh","token":"x"}`)
	})
}
