package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/auth"
	"github.com/ripple-rt/ripple/internal/wstest"
)

var secret = []byte("test-secret-0123456789")

// token signs claims with method and key.
func token(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	now := time.Now()
	v, err := auth.New(auth.Config{Secret: secret, Issuer: "app", Audience: "ripple"})
	if err != nil {
		t.Fatal(err)
	}
	good := jwt.MapClaims{"sub": "42", "iss": "app", "aud": "ripple", "exp": now.Add(time.Hour).Unix()}
	with := func(k string, val any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, tc := range []struct {
		name  string
		tok   string
		want  string // subject
		isErr error
		cause error
	}{
		{name: "valid", tok: token(t, jwt.SigningMethodHS256, secret, good), want: "42"},
		{name: "no exp is allowed", tok: token(t, jwt.SigningMethodHS256, secret, with("exp", nil)), want: "42"},
		{name: "within leeway", tok: token(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-10*time.Second).Unix())), want: "42"},
		{name: "expired", tok: token(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Hour).Unix())), isErr: auth.ErrInvalidToken, cause: jwt.ErrTokenExpired},
		{name: "not yet valid", tok: token(t, jwt.SigningMethodHS256, secret, with("nbf", now.Add(time.Hour).Unix())), isErr: auth.ErrInvalidToken, cause: jwt.ErrTokenNotValidYet},
		{name: "wrong secret", tok: token(t, jwt.SigningMethodHS256, []byte("other"), good), isErr: auth.ErrInvalidToken, cause: jwt.ErrTokenSignatureInvalid},
		{name: "HS512 refused", tok: token(t, jwt.SigningMethodHS512, secret, good), isErr: auth.ErrInvalidToken},
		{name: "alg none refused", tok: unsigned, isErr: auth.ErrInvalidToken},
		{name: "wrong issuer", tok: token(t, jwt.SigningMethodHS256, secret, with("iss", "evil")), isErr: auth.ErrInvalidToken, cause: jwt.ErrTokenInvalidIssuer},
		{name: "wrong audience", tok: token(t, jwt.SigningMethodHS256, secret, with("aud", "other")), isErr: auth.ErrInvalidToken, cause: jwt.ErrTokenInvalidAudience},
		{name: "no sub", tok: token(t, jwt.SigningMethodHS256, secret, with("sub", nil)), isErr: auth.ErrNoSubject},
		{name: "garbage", tok: "not.a.token", isErr: auth.ErrInvalidToken, cause: jwt.ErrTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := v.Verify(tc.tok)
			if tc.isErr == nil {
				if err != nil || sub != tc.want {
					t.Fatalf("Verify = %q, %v; want %q", sub, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.isErr) || (tc.cause != nil && !errors.Is(err, tc.cause)) {
				t.Fatalf("Verify = %q, %v; want %v (%v)", sub, err, tc.isErr, tc.cause)
			}
		})
	}
}

func TestNewNeedsSecret(t *testing.T) {
	if _, err := auth.New(auth.Config{}); !errors.Is(err, auth.ErrNoSecret) {
		t.Fatalf("err %v", err)
	}
}

func TestToken(t *testing.T) {
	for _, tc := range []struct {
		query, header, want string
	}{
		{"token=abc", "", "abc"},
		{"a=1&token=abc", "Bearer def", "abc"},
		{"", "Bearer def", "def"},
		{"", "bearer  def ", "def"},
		{"", "Basic xyz", ""},
		{"", "", ""},
	} {
		r := &ripple.Request{RawQuery: tc.query}
		if tc.header != "" {
			r.Header = http.Header{"Authorization": {tc.header}}
		}
		if got := auth.Token(r); got != tc.want {
			t.Errorf("Token(%q, %q) = %q, want %q", tc.query, tc.header, got, tc.want)
		}
	}
}

// whoami answers every connection with its user.
func whoami(ev *ripple.Event) ripple.Reply {
	if ev.Type != ripple.Connect {
		return ripple.Reply{}
	}
	return ripple.Reply{Send: []byte("user=" + ev.User)}
}

// TestUpgrade runs the hooks on a real server with real tokens.
func TestUpgrade(t *testing.T) {
	v, err := auth.New(auth.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	hook := func(r *ripple.Request) (string, error) {
		if strings.HasPrefix(r.Path, "/optional") {
			return v.Optional(r)
		}
		return v.Required(r)
	}
	srv := wstest.Start(t, ripple.Config{Auth: hook}, map[string]ripple.Handler{"/whoami": whoami, "/optional": whoami})
	alice := token(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Minute).Unix()})
	expired := token(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()})

	dial := func(path string, h http.Header) (*wstest.Client, *http.Response, error) {
		d := websocket.Dialer{HandshakeTimeout: wstest.Timeout}
		conn, resp, err := d.Dial(srv.URL(path), h)
		if err != nil {
			return nil, resp, err
		}
		c := wstest.Wrap(conn)
		t.Cleanup(func() { _ = c.Close() })
		return c, resp, nil
	}
	for _, tc := range []struct {
		name      string
		path      string
		header    http.Header
		want      string // first message; "" for a refusal
		challenge string // WWW-Authenticate of a refusal
	}{
		{name: "query token", path: "/whoami?token=" + url.QueryEscape(alice), want: "user=alice"},
		{name: "bearer header", path: "/whoami", header: http.Header{"Authorization": {"Bearer " + alice}}, want: "user=alice"},
		{name: "missing", path: "/whoami", challenge: `Bearer realm="ripple"`},
		{name: "expired", path: "/whoami?token=" + expired, challenge: `Bearer realm="ripple", error="invalid_token"`},
		{name: "forged", path: "/whoami?token=" + alice[:len(alice)-2] + "xx", challenge: `error="invalid_token"`},
		{name: "optional without token", path: "/optional", want: "user="},
		{name: "optional with token", path: "/optional?token=" + alice, want: "user=alice"},
		{name: "optional with a bad token", path: "/optional?token=" + expired, challenge: `error="invalid_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := dial(tc.path, tc.header)
			if tc.want != "" {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				if got := wstest.ReadString(t, c); got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
				return
			}
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("want 401, got %v %v", resp, err)
			}
			if h := resp.Header.Get("Www-Authenticate"); !strings.Contains(h, tc.challenge) {
				t.Fatalf("WWW-Authenticate %q, want %q", h, tc.challenge)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name   string
		leeway time.Duration
		claims jwt.MapClaims
		want   time.Time
	}{
		{"exp plus the default leeway", 0, jwt.MapClaims{"sub": "42", "exp": exp.Unix()}, exp.Add(auth.DefaultLeeway)},
		{"exp plus the leeway", 2 * time.Second, jwt.MapClaims{"sub": "42", "exp": exp.Unix()}, exp.Add(2 * time.Second)},
		{"no exp: never", 0, jwt.MapClaims{"sub": "42"}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := auth.New(auth.Config{Secret: secret, Leeway: tc.leeway})
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Credentials(token(t, jwt.SigningMethodHS256, secret, tc.claims))
			if err != nil || c.User != "42" || !c.Expires.Equal(tc.want) {
				t.Fatalf("Credentials = %+v, %v; want user 42 expiring at %v", c, err, tc.want)
			}
		})
	}
}

// TestExpiryAndRefresh runs the Authenticate and Refresh hooks on a real
// server with real tokens: a connection is closed with 4001 "token
// expired" when its token expires, unless it sent a refresh message with a
// new token on a route that accepts them.
func TestExpiryAndRefresh(t *testing.T) {
	v, err := auth.New(auth.Config{Secret: secret, Leeway: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := ripple.New(ripple.Config{Authenticate: v.RequiredCredentials, Refresh: v.Credentials, CloseTimeout: 200 * time.Millisecond})
	for _, p := range []string{"/whoami", "/renew"} {
		var opts []ripple.RouteOption
		if p == "/renew" {
			opts = append(opts, ripple.TokenRefresh())
		}
		if err := srv.Handle(p, whoami, opts...); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	// exp is in whole seconds: this token expires in two to three seconds.
	soon := time.Now().Add(3 * time.Second).Truncate(time.Second)
	short := token(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": soon.Unix()})
	dial := func(path string) *wstest.Client {
		c, err := wstest.DialURL("ws://" + srv.Addr().String() + path + "?token=" + short)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if got := wstest.ReadString(t, c); got != "user=alice" {
			t.Fatalf("got %q", got)
		}
		return c
	}
	plain, renewed := dial("/whoami"), dial("/renew")

	later := time.Now().Add(time.Hour).Truncate(time.Second)
	wstest.Send(t, renewed, `{"type":"refresh","token":"`+token(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": later.Unix()})+`"}`)
	if got := wstest.ReadJSON(t, renewed); got["type"] != "refresh" || got["expires_at"] != float64(later.Unix()) {
		t.Fatalf("refresh answered %v", got)
	}
	if code, reason := wstest.ExpectClose(t, plain); code != int(ripple.CloseTokenExpired) || reason != "token expired" || time.Now().Before(soon) {
		t.Fatalf("closed with %d %q, want 4001 after %v", code, reason, soon)
	}
	wstest.ExpectSilence(t, renewed, wstest.Quiet) // the other is still open after the first expiry
}
