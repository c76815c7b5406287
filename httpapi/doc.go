// Package httpapi exposes the server-side helpers as a JSON HTTP API, so that
// an application in any language can drive Ripple:
//
//	POST /api/send            {"connection_id","message"}  → {"delivered": bool} (404 if unknown)
//	POST /api/broadcast       {"message"}                  → {"recipients": n}
//	POST /api/broadcast_room  {"channel","message"}        → {"recipients": n}
//	POST /api/count           {}                           → {"count": n}
//	POST /api/join            {"connection_id","channel"}  → {"ok": true}
//	POST /api/leave           {"connection_id","channel"}  → {"ok": true}
//	POST /api/clients         {}                           → {"clients": [ids]}
//	POST /api/clients_in      {"channel"}                  → {"clients": [ids]}
//	POST /api/close           {"connection_id","reason"}   → {"closed": bool}
//	POST /api/list_presence   {"channel"}                  → {"presences": [{"user_id","metas"}]}
//	POST /api/presence_count  {"channel"}                  → {"count": n}
//	POST /api/get_presence    {"channel","user_id"}        → {"user_id","metas"} (404 if absent)
//
// With an API key every call needs "Authorization: Bearer <key>" (else 401);
// without one only loopback peers are answered (else 403). Bad JSON or a
// missing field is a 400 with {"error": "..."}.
//
// On a node of a cluster the calls act on the whole cluster: counts,
// client lists, presence and the recipients of broadcasts are the
// cluster's. A call that needs Redis and gets no answer within
// Config.Timeout is a 503 with {"error": "..."}: presence reads, counts and
// client lists are never answered from part of the cluster. A broadcast
// has then reached this node's connections: it answers this node's count
// with "partial": true. The handler holds no state of
// its own and is safe for concurrent use.
package httpapi
