#!/usr/bin/env node
// check.js replays presence messages through the phoenix npm package's
// Presence.syncState / Presence.syncDiff and compares every client's final
// view with the expected presence list.
//
// Usage:   node presence/phoenixcheck/check.js FILE.json [FILE.json ...]
// Setup:   npm ci --prefix presence/phoenixcheck   (installs phoenix from package-lock.json)
//
// Each FILE is one channel:
//
//   {
//     "mode": "user" | "connection",
//     "clients": [
//       {"id": "conn-1", "messages": [<message>, ...]}
//     ],
//     "expected": [{"user_id": "u1", "metas": [{"phx_ref": "...", ...}, ...]}, ...]
//   }
//
// A <message> is what the client received, in arrival order, either as the
// raw JSON text (a string) or as the parsed object. Messages whose "event" is
// presence_state go through Presence.syncState(view, payload), presence_diff
// through Presence.syncDiff(view, payload); any other message is ignored, so
// a whole WebSocket transcript may be passed. Every client starts from an
// empty view.
//
// A client passes when its view has exactly the expected users and, in mode
// "connection", exactly the expected metas of each user (compared as sets by
// phx_ref, each meta compared field by field). In mode "user" only users are
// compared: a user's metas there may hold refs of connections that already
// left, retracted when the user leaves.
//
// Exit status: 0 when every client of every file passes, 1 on a mismatch
// (described on stderr), 2 on bad input.
"use strict"

const fs = require("fs")
const { Presence } = require("phoenix")

// canonical renders a JSON value with object keys sorted.
function canonical(v) {
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]"
  if (v !== null && typeof v === "object") {
    return "{" + Object.keys(v).sort().map(k => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}"
  }
  return JSON.stringify(v)
}

function metaSet(metas) {
  return metas.map(canonical).sort()
}

function fail(code, msg) {
  process.stderr.write("phoenixcheck: " + msg + "\n")
  process.exit(code)
}

function checkFile(file) {
  let input
  try {
    input = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (e) {
    fail(2, file + ": " + e.message)
  }
  const { mode, clients, expected } = input
  if (mode !== "user" && mode !== "connection") fail(2, file + ": mode must be \"user\" or \"connection\", got " + JSON.stringify(mode))
  if (!Array.isArray(clients) || !Array.isArray(expected)) fail(2, file + ": clients and expected must be arrays")

  const want = new Map(expected.map(p => [p.user_id, p.metas]))
  const wantUsers = [...want.keys()].sort()
  const problems = []
  let messages = 0

  for (const client of clients) {
    let view = {}
    for (const [i, raw] of (client.messages || []).entries()) {
      let msg
      try {
        msg = typeof raw === "string" ? JSON.parse(raw) : raw
      } catch (e) {
        fail(2, file + ": client " + client.id + " message " + i + ": " + e.message)
      }
      messages++
      if (msg === null || typeof msg !== "object") continue
      if (msg.event === "presence_state") {
        view = Presence.syncState(view, msg.payload)
      } else if (msg.event === "presence_diff") {
        view = Presence.syncDiff(view, msg.payload)
      }
    }
    const gotUsers = Object.keys(view).sort()
    if (canonical(gotUsers) !== canonical(wantUsers)) {
      problems.push("client " + client.id + ": users " + JSON.stringify(gotUsers) + ", expected " + JSON.stringify(wantUsers))
      continue
    }
    if (mode === "connection") {
      for (const u of wantUsers) {
        const got = metaSet(view[u].metas), exp = metaSet(want.get(u))
        if (canonical(got) !== canonical(exp)) {
          problems.push("client " + client.id + ": metas of " + JSON.stringify(u) + "\n    got      " + got.join(" ") + "\n    expected " + exp.join(" "))
        }
      }
    }
  }

  if (problems.length > 0) {
    fail(1, file + " (mode " + mode + "): " + problems.length + " mismatch(es)\n  " + problems.slice(0, 10).join("\n  "))
  }
  process.stdout.write("phoenixcheck: ok " + file + ": mode " + mode + ", " + clients.length + " clients, " +
    messages + " messages, " + wantUsers.length + " users\n")
}

const files = process.argv.slice(2)
if (files.length === 0) fail(2, "usage: node check.js FILE.json [FILE.json ...]")
files.forEach(checkFile)
