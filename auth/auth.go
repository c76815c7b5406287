package auth

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ripple-rt/ripple"
)

// Errors. Every refusal wraps one of them.
var (
	ErrNoSecret     = errors.New("auth: secret required")
	ErrNoToken      = errors.New("auth: token required")
	ErrInvalidToken = errors.New("auth: invalid token")
	ErrNoSubject    = errors.New("auth: token has no sub")
)

// DefaultLeeway is the clock skew allowed on exp and nbf.
const DefaultLeeway = 30 * time.Second

// QueryParam is the query parameter carrying a token.
const QueryParam = "token"

// Config configures a Verifier.
type Config struct {
	// Secret is the HS256 key shared with the token issuer. Required.
	Secret []byte
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Audience, when set, must be among the token's "aud".
	Audience string
	// Leeway is the clock skew allowed on exp and nbf. Zero means
	// DefaultLeeway.
	Leeway time.Duration
	// Now returns the current time. Nil means time.Now (tests set it).
	Now func() time.Time
}

// Verifier checks tokens.
type Verifier struct {
	// Immutable after New.
	secret []byte
	parser *jwt.Parser
	leeway time.Duration
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Secret) == 0 {
		return nil, ErrNoSecret
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	return &Verifier{secret: append([]byte(nil), cfg.Secret...), parser: jwt.NewParser(opts...), leeway: cfg.Leeway}, nil
}

// Verify checks token and returns its subject.
func (v *Verifier) Verify(token string) (string, error) {
	c, err := v.Credentials(token)
	return c.User, err
}

// Credentials checks token and returns its subject and when it stops being
// valid: its "exp" plus the leeway (the moment Verify starts refusing it),
// or never without "exp". It is the ripple.Config.Refresh hook.
func (v *Verifier) Credentials(token string) (ripple.Credentials, error) {
	var claims jwt.RegisteredClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		return ripple.Credentials{}, reason(err)
	}
	if claims.Subject == "" {
		return ripple.Credentials{}, ErrNoSubject
	}
	c := ripple.Credentials{User: claims.Subject}
	if claims.ExpiresAt != nil {
		c.Expires = claims.ExpiresAt.Add(v.leeway)
	}
	return c, nil
}

// reason keeps the useful part of a jwt error: expired, not yet valid, bad
// signature, wrong issuer or audience, malformed.
func reason(err error) error {
	for _, known := range []error{jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenSignatureInvalid,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience, jwt.ErrTokenUnverifiable, jwt.ErrTokenMalformed} {
		if errors.Is(err, known) {
			return errors.Join(ErrInvalidToken, known)
		}
	}
	return errors.Join(ErrInvalidToken, err)
}

// Token returns the token a request carries: the "token" query parameter,
// else the bearer token of the Authorization header; "" when there is none.
func Token(r *ripple.Request) string {
	if r == nil {
		return ""
	}
	if r.RawQuery != "" {
		if t := r.Query().Get(QueryParam); t != "" {
			return t
		}
	}
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Required is an upgrade hook (ripple.Config.Auth) that demands a valid
// token and returns its subject; without one the upgrade gets 401.
func (v *Verifier) Required(r *ripple.Request) (string, error) {
	c, err := v.RequiredCredentials(r)
	return c.User, err
}

// Optional is like Required but lets a request without a token through
// with no user; a token that is present must be valid.
func (v *Verifier) Optional(r *ripple.Request) (string, error) {
	c, err := v.OptionalCredentials(r)
	return c.User, err
}

// RequiredCredentials is Required as a ripple.Config.Authenticate hook: the
// connection is also closed with 4001 "token expired" when its token
// expires (see Credentials), unless refreshed.
func (v *Verifier) RequiredCredentials(r *ripple.Request) (ripple.Credentials, error) {
	t := Token(r)
	if t == "" {
		return ripple.Credentials{}, reject(ErrNoToken)
	}
	return v.check(t)
}

// OptionalCredentials is Optional as a ripple.Config.Authenticate hook.
func (v *Verifier) OptionalCredentials(r *ripple.Request) (ripple.Credentials, error) {
	t := Token(r)
	if t == "" {
		return ripple.Credentials{}, nil
	}
	return v.check(t)
}

func (v *Verifier) check(t string) (ripple.Credentials, error) {
	c, err := v.Credentials(t)
	if err != nil {
		return ripple.Credentials{}, reject(err)
	}
	return c, nil
}

// reject turns an error into a 401 with an RFC 6750 challenge.
func reject(err error) error {
	challenge := `Bearer realm="ripple"`
	if !errors.Is(err, ErrNoToken) {
		challenge += `, error="invalid_token"`
	}
	return &ripple.Reject{
		Status: http.StatusUnauthorized,
		Reason: strings.ReplaceAll(err.Error(), "\n", ": "),
		Header: http.Header{"Www-Authenticate": {challenge}},
	}
}
