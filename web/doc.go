// Package web serves Ripple's interactive chat demo page.
//
// The page is three static files (static/index.html, static/app.js and
// static/style.css) compiled into the binary with go:embed, so the demo
// needs no files on disk, no build step and no external resources: no CDN,
// no web fonts. [Handler] serves them over plain HTTP; cmd/ripple mounts it
// at GET / next to the WebSocket routes.
//
// What the page does, all in plain JavaScript in the browser:
//   - speaks Phoenix Channels V2 on /socket/websocket and joins the demo
//     topic room:<room> with {"user_id","name"}, the user id kept in
//     localStorage, so every tab of one browser profile is one user;
//   - keeps the room's user list from presence_state and presence_diff,
//     showing each user once with the number of connections presence
//     reports for it, and join/leave notices from the diffs;
//   - pushes typing and stop_typing for typing indicators, and chat lines
//     as the event chat, which the topic broadcasts to every member;
//   - reconnects with capped exponential backoff, shows the state, and
//     rejoins recovering from the position of the last chat line it showed
//     (SPEC section 10), so no line sent while it was away is lost;
//   - renders all user data with textContent, never as HTML.
//
// What it does not own: the WebSocket routes and presence semantics (see
// the handlers and presence packages); this package only serves bytes.
//
// Goroutines: Handler returns a stateless, immutable http.Handler that is
// safe for concurrent use. All file contents, content types and ETags are
// computed once at package initialisation.
package web
