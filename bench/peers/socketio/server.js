// The socket.io peer server of ripple-bench: `node server.js -addr host:port`.
//
// socket.io as its documentation sets it up, over the WebSocket transport
// only (no HTTP long-polling, no upgrade), with the default in-memory
// adapter and no per-message deflate. A client names its room in the
// handshake query (/socket.io/?EIO=4&transport=websocket&room=<id>) and is
// joined to it on connection:
//   - event "room" is emitted to the whole room, sender included
//     (io.to(room).emit), with the data as received;
//   - event "echo" is emitted back to the sender (socket.emit).
// socket.io has no presence. The generator's side of the protocol (Engine.IO
// v4, Socket.IO v5) is bench/dialect.
//
// It prints "socketio listening on ws://ADDR" once accepting, exits 0 on
// SIGTERM or SIGINT, and exits by itself when the process that started it
// ends. It is a peer for ripple-bench comparisons, not a product server.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

function parseAddr(argv) {
  let addr = "127.0.0.1:0";
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "-addr" || argv[i] === "--addr") {
      addr = argv[++i];
    } else if (argv[i].startsWith("-addr=") || argv[i].startsWith("--addr=")) {
      addr = argv[i].slice(argv[i].indexOf("=") + 1);
    } else {
      console.error(`usage: node server.js [-addr host:port]\nunknown argument ${argv[i]}`);
      process.exit(2);
    }
  }
  const at = addr.lastIndexOf(":");
  return { host: addr.slice(0, at) || "127.0.0.1", port: Number(addr.slice(at + 1)) };
}

const { host, port } = parseAddr(process.argv.slice(2));

const httpServer = http.createServer((req, res) => {
  res.writeHead(404).end();
});

const io = new Server(httpServer, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
  httpCompression: false,
});

io.on("connection", (socket) => {
  const room = socket.handshake.query.room;
  if (typeof room === "string" && room !== "") {
    socket.join(room);
    socket.on("room", (msg) => {
      io.to(room).emit("room", msg);
    });
  }
  socket.on("echo", (msg) => {
    socket.emit("echo", msg);
  });
});

function stop() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// The suite starts this process; should the suite end without stopping it,
// the parent changes and the server goes too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    process.exit(0);
  }
}, 1000).unref();

httpServer.listen({ host, port, backlog: 4096 }, () => {
  const a = httpServer.address();
  console.log(`socketio listening on ws://${a.address}:${a.port}`);
});
