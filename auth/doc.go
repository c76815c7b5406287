// Package auth verifies the HS256 JSON Web Tokens that WebSocket clients of
// the dedicated server present, and turns a token's "sub" claim into the
// connection's user id (ripple.Event.User).
//
// A client sends its token as the "token" query parameter (browsers cannot
// set headers on a WebSocket) or as "Authorization: Bearer <token>":
//
//	v, err := auth.New(auth.Config{Secret: []byte(secret)})
//	srv := ripple.New(ripple.Config{Auth: v.Required})
//
// or, to close a connection with 4001 "token expired" when its token's
// "exp" passes, and let routes with ripple.TokenRefresh() renew it with a
// message {"type":"refresh","token":"<a new token>"}:
//
//	srv := ripple.New(ripple.Config{Authenticate: v.RequiredCredentials, Refresh: v.Credentials})
//
// Only HS256 is accepted (the "alg" header is checked, so "none" and
// asymmetric algorithms are refused); "exp" and "nbf" are enforced when
// present, with Leeway; "iss" and "aud" when configured; "sub" is required.
// A refused upgrade gets 401 with a WWW-Authenticate header naming the
// problem (RFC 6750).
//
// What it does not own: issuing tokens (the application's backend does that
// with the same secret) and deciding which routes need a token (the caller
// chooses Required or Optional per route).
//
// Goroutines: a Verifier is immutable after New and safe for concurrent use;
// its methods run on the event loop during the upgrade and do not block.
package auth
