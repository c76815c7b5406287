#!/usr/bin/env node
// driver.mjs runs the real phoenix npm package (Socket, Channel, Presence)
// in Node, with the ws package as its WebSocket, on behalf of a Go test
// (package phxjs). It reads one JSON command per line on stdin and writes
// one JSON event per line on stdout; every command and event names the
// socket or channel it concerns by an id the test chose.
//
// Commands:
//   {"op":"socket","id":S,"url":"ws://host/socket","params":{...},"opts":{...}}
//       opts: heartbeatIntervalMs, timeout, reconnectMs, rejoinMs,
//             longpoll (true: LongPoll transport), longPollFallbackMs,
//             vsn ("1.0.0" for the V1 serializer)
//   {"op":"channel","id":C,"socket":S,"topic":T,"params":{...},"presence":true,"on":[E...],"recover":true}
//       on: events handed to channel.on callbacks, reported with their ref
//       (the second argument); recover: the join params are a function
//       adding {"recover":{"epoch","offset"}} of the last position such a
//       callback got (as an application recovering on rejoin does)
//   {"op":"join","ch":C}          {"op":"leave","ch":C}
//   {"op":"push","ch":C,"event":E,"payload":P,"tag":X}
//   {"op":"disconnect","socket":S}
//   {"op":"exit"}
// Events:
//   {"ev":"open"|"close"|"error","socket":S,"code":N,"transport":"websocket"|"longpoll"}
//   {"ev":"heartbeat","socket":S}                     a heartbeat was answered ok
//   {"ev":"join","ch":C,"status":"ok"|"error"|"timeout","resp":R}
//   {"ev":"reply","ch":C,"tag":X,"status":...,"resp":R}
//   {"ev":"left","ch":C}   {"ev":"closed","ch":C}   {"ev":"errored","ch":C}
//   {"ev":"msg","ch":C,"event":E,"payload":P,"binary":bool}  every other channel message
//   {"ev":"on","ch":C,"event":E,"payload":P,"ref":R}  a channel.on callback of an "on" event
//   {"ev":"pjoin"|"pleave","ch":C,"user":U,"metas":N}  Presence onJoin/onLeave (N: the user's metas now)
//   {"ev":"sync","ch":C,"list":[{"user":U,"metas":N,"states":[...],"names":[...]}]}  Presence onSync
//   {"ev":"fail","error":text}                       a command the driver could not run
"use strict"

import { createInterface } from "node:readline"
import { Socket, LongPoll, Presence } from "phoenix"
import WebSocket from "ws"

const sockets = new Map()
const channels = new Map()

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n")
}

function transportName(socket) {
  return socket.transport === LongPoll ? "longpoll" : "websocket"
}

function newSocket(cmd) {
  const o = cmd.opts || {}
  const opts = {
    transport: o.longpoll ? LongPoll : WebSocket,
    params: cmd.params || {},
    heartbeatIntervalMs: o.heartbeatIntervalMs || 30000,
    timeout: o.timeout || 10000,
    reconnectAfterMs: () => o.reconnectMs || 200,
    rejoinAfterMs: () => o.rejoinMs || 200,
  }
  if (o.longPollFallbackMs) opts.longPollFallbackMs = o.longPollFallbackMs
  if (o.vsn === "1.0.0") {
    opts.vsn = "1.0.0"
    opts.encode = (msg, cb) => cb(JSON.stringify({ topic: msg.topic, event: msg.event, payload: msg.payload, ref: msg.ref, join_ref: msg.join_ref }))
    opts.decode = (raw, cb) => { const m = JSON.parse(raw); cb({ join_ref: m.join_ref || null, ref: m.ref, topic: m.topic, event: m.event, payload: m.payload }) }
  }
  const socket = new Socket(cmd.url, opts)
  socket.onOpen(() => emit({ ev: "open", socket: cmd.id, transport: transportName(socket) }))
  socket.onClose((e) => emit({ ev: "close", socket: cmd.id, code: e && e.code }))
  socket.onError(() => emit({ ev: "error", socket: cmd.id }))
  socket.onMessage((m) => {
    if (m.topic === "phoenix" && m.event === "phx_reply" && m.payload && m.payload.status === "ok") {
      emit({ ev: "heartbeat", socket: cmd.id })
    } else if (m.topic === "phoenix") {
      emit({ ev: "msg", socket: cmd.id, event: m.event, payload: m.payload })
    }
  })
  sockets.set(cmd.id, socket)
  socket.connect()
}

function summary(metas) {
  return {
    metas: metas.length,
    states: metas.map((m) => m.state).sort(),
    names: metas.map((m) => m.name).filter((n) => n !== undefined).sort(),
  }
}

function newChannel(cmd) {
  const socket = sockets.get(cmd.socket)
  let last = null
  const base = cmd.params || {}
  const ch = socket.channel(cmd.topic, cmd.recover ? () => (last ? { ...base, recover: last } : base) : base)
  const id = cmd.id
  for (const event of cmd.on || []) {
    ch.on(event, (payload, ref) => {
      if (typeof ref === "string" && ref.includes(":")) {
        const i = ref.lastIndexOf(":")
        last = { epoch: ref.slice(0, i), offset: Number(ref.slice(i + 1)) }
      }
      emit({ ev: "on", ch: id, event, payload, ref })
    })
  }
  ch.onMessage = (event, payload) => {
    if (!event.startsWith("chan_reply_") && event !== "phx_reply" && event !== "presence_state" && event !== "presence_diff") {
      const binary = payload instanceof ArrayBuffer
      emit({ ev: "msg", ch: id, event, binary, payload: binary ? Buffer.from(payload).toString("base64") : payload })
    }
    return payload
  }
  ch.onClose(() => emit({ ev: "closed", ch: id }))
  ch.onError((reason) => emit({ ev: "errored", ch: id, reason: reason || null }))
  if (cmd.presence) {
    const p = new Presence(ch)
    p.onJoin((user, cur, added) => emit({ ev: "pjoin", ch: id, user, first: !cur, metas: (cur ? cur.metas.length : 0) + added.metas.length }))
    p.onLeave((user, cur) => emit({ ev: "pleave", ch: id, user, metas: cur.metas.length }))
    p.onSync(() => emit({ ev: "sync", ch: id, list: p.list((user, { metas }) => ({ user, ...summary(metas) })) }))
  }
  channels.set(id, ch)
}

function join(cmd) {
  const ch = channels.get(cmd.ch)
  ch.join()
    .receive("ok", (resp) => emit({ ev: "join", ch: cmd.ch, status: "ok", resp }))
    .receive("error", (resp) => emit({ ev: "join", ch: cmd.ch, status: "error", resp }))
    .receive("timeout", () => emit({ ev: "join", ch: cmd.ch, status: "timeout" }))
}

function push(cmd) {
  const ch = channels.get(cmd.ch)
  let payload = cmd.payload
  if (cmd.binary) payload = Uint8Array.from(Buffer.from(cmd.binary, "base64")).buffer
  const reply = (status) => (resp) => emit({ ev: "reply", ch: cmd.ch, tag: cmd.tag, status, resp: resp === undefined ? null : resp })
  ch.push(cmd.event, payload).receive("ok", reply("ok")).receive("error", reply("error")).receive("timeout", reply("timeout"))
}

const rl = createInterface({ input: process.stdin })
rl.on("line", (line) => {
  let cmd
  try {
    cmd = JSON.parse(line)
    switch (cmd.op) {
      case "socket": newSocket(cmd); break
      case "channel": newChannel(cmd); break
      case "join": join(cmd); break
      case "push": push(cmd); break
      case "leave":
        channels.get(cmd.ch).leave().receive("ok", () => emit({ ev: "left", ch: cmd.ch }))
        break
      case "disconnect": sockets.get(cmd.socket).disconnect(); break
      case "exit": process.exit(0)
      default: emit({ ev: "fail", error: "unknown op " + cmd.op })
    }
  } catch (e) {
    emit({ ev: "fail", error: String(e && e.stack || e) })
  }
})
rl.on("close", () => process.exit(0))
process.on("uncaughtException", (e) => emit({ ev: "fail", error: String(e && e.stack || e) }))
