// Browser test of Ripple's Phoenix Channels endpoint with phoenix.js itself:
// this test serves a page that loads phoenix.js from node_modules (the
// phoenix npm package's browser build) and joins a room of the demo server
// (room:<id>) with Presence. One page uses the WebSocket transport; in the
// other, WebSockets are broken (as behind a proxy that drops upgrades), so
// phoenix.js's longPollFallbackMs moves it to the long-poll transport. The
// two chat and see each other in Presence. Run through e2e/run.sh, which
// starts the real server and sets RIPPLE_URL. Screenshots go to e2e/out/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.RIPPLE_URL;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('./out/', import.meta.url));
const PHOENIX_JS = fileURLToPath(new URL('./node_modules/phoenix/priv/static/phoenix.min.js', import.meta.url));
const WAIT_MS = 15000;
const ROOM = `room:phx-${Date.now().toString(36)}`;

// The page: phoenix.js's global Phoenix, a socket to the Ripple server
// given in the query, one channel with Presence, and its state in the DOM
// and in window.phx for the test to read.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>phoenix.js on Ripple</title><link rel="icon" href="data:,">
<style>body{font:14px system-ui;margin:2em} li{margin:.2em 0} #transport{font-weight:bold}</style>
<script src="/phoenix.js"></script></head>
<body>
<h1>phoenix.js on Ripple</h1>
<p>transport: <span id="transport">connecting</span> · topic <code id="topic"></code></p>
<h2>present</h2><ul id="users"></ul>
<h2>messages</h2><ul id="messages"></ul>
<script>
  const q = new URLSearchParams(location.search);
  const user = q.get('user');
  const opts = {};
  if (q.get('fallback')) opts.longPollFallbackMs = Number(q.get('fallback'));
  const socket = new Phoenix.Socket(q.get('endpoint'), opts);
  const channel = socket.channel(q.get('topic'), { user_id: user, name: user.toUpperCase() });
  const presence = new Phoenix.Presence(channel);
  window.phx = { socket, channel, users: [], messages: [], joined: null, transport: null };
  document.getElementById('topic').textContent = q.get('topic');
  socket.onOpen(() => {
    window.phx.transport = socket.transport === Phoenix.LongPoll ? 'longpoll' : 'websocket';
    document.getElementById('transport').textContent = window.phx.transport;
  });
  presence.onSync(() => {
    window.phx.users = presence.list((id, { metas }) => ({ id, name: metas[0].name, devices: metas.length }));
    const ul = document.getElementById('users');
    ul.replaceChildren(...window.phx.users.map((u) => {
      const li = document.createElement('li');
      li.dataset.userId = u.id;
      li.textContent = u.name + ' (' + u.devices + ')';
      return li;
    }));
  });
  channel.on('new_msg', (payload) => {
    window.phx.messages.push(payload);
    const li = document.createElement('li');
    li.textContent = payload.name + ': ' + payload.body;
    document.getElementById('messages').append(li);
  });
  channel.join()
    .receive('ok', () => { window.phx.joined = 'ok'; })
    .receive('error', (e) => { window.phx.joined = 'error: ' + JSON.stringify(e); });
  socket.connect();
  window.say = (body) => new Promise((resolve, reject) => {
    channel.push('new_msg', { body }).receive('ok', resolve).receive('error', reject).receive('timeout', () => reject(new Error('timeout')));
  });
</script></body></html>`;

// A WebSocket that never connects, installed before phoenix.js loads.
const BREAK_WEBSOCKETS = () => {
  window.WebSocket = class {
    constructor(url) {
      this.url = url;
      this.readyState = 3;
      setTimeout(() => {
        if (this.onerror) this.onerror(new Event('error'));
        if (this.onclose) this.onclose({ code: 1006, reason: '', wasClean: false });
      }, 20);
    }
    send() {}
    close() {}
  };
};

let browser;
let server;
let pageURL;
let wsPage;
let lpPage;
let failed = false;
const problems = [];

function step(name, fn) {
  test(name, { timeout: 60000 }, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    try {
      await fn(t);
    } catch (err) {
      failed = true;
      const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
      for (const [label, page] of [['ws', wsPage], ['longpoll', lpPage]]) {
        if (page && !page.isClosed()) await page.screenshot({ path: `${OUT}FAILED-phoenix-${slug}-${label}.png` }).catch(() => {});
      }
      throw err;
    }
  });
}

async function until(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 50 });
  } catch (err) {
    const seen = await page.evaluate(() => ({ ...window.phx, socket: undefined, channel: undefined })).catch(() => 'page unavailable');
    throw new Error(`timed out waiting for ${what}; page state ${JSON.stringify(seen)}`, { cause: err });
  }
}

function watch(page, label) {
  page.on('pageerror', (err) => problems.push(`${label}: page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`${label}: console error: ${msg.text()}`);
  });
  return page;
}

const present = (page, ids, what) => until(page, what,
  (want) => window.phx.users.map((u) => u.id).sort().join(' ') === want, [...ids].sort().join(' '));

const heard = (page, body, what) => until(page, what, (b) => window.phx.messages.some((m) => m.body === b), body);

before(async () => {
  await mkdir(OUT, { recursive: true });
  if (!BASE) throw new Error('RIPPLE_URL is not set: run e2e/run.sh, which starts the server');
  const phoenixJS = await readFile(PHOENIX_JS);
  server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/phoenix.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(phoenixJS);
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = BASE.replace(/^http/, 'ws') + '/socket';
  pageURL = (user, extra = '') => `http://127.0.0.1:${server.address().port}/?endpoint=${encodeURIComponent(endpoint)}` +
    `&topic=${encodeURIComponent(ROOM)}&user=${user}${extra}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.close();
  if (problems.length) console.log('page problems:\n' + problems.join('\n'));
});

step('phoenix.js joins over a WebSocket', async () => {
  const ctx = await browser.newContext({ viewport: { width: 900, height: 600 } });
  wsPage = watch(await ctx.newPage(), 'ws');
  await wsPage.goto(pageURL('alice'));
  await until(wsPage, 'the join', () => window.phx.joined === 'ok');
  assert.equal(await wsPage.evaluate(() => window.phx.transport), 'websocket');
  await present(wsPage, ['alice'], 'alice present');
});

step('with WebSockets broken, phoenix.js falls back to long polling and joins', async () => {
  const ctx = await browser.newContext({ viewport: { width: 900, height: 600 } });
  await ctx.addInitScript(BREAK_WEBSOCKETS);
  lpPage = watch(await ctx.newPage(), 'longpoll');
  await lpPage.goto(pageURL('bob', '&fallback=500'));
  await until(lpPage, 'the join', () => window.phx.joined === 'ok');
  assert.equal(await lpPage.evaluate(() => window.phx.transport), 'longpoll');
  await present(lpPage, ['alice', 'bob'], 'both present at bob');
  await present(wsPage, ['alice', 'bob'], 'both present at alice');
});

step('they chat across the two transports', async () => {
  await wsPage.evaluate(() => window.say('hello from the websocket'));
  await heard(lpPage, 'hello from the websocket', 'bob hears alice');
  await lpPage.evaluate(() => window.say('hello from long polling'));
  await heard(wsPage, 'hello from long polling', 'alice hears bob');
  const msg = await wsPage.evaluate(() => window.phx.messages.find((m) => m.body === 'hello from long polling'));
  assert.equal(msg.user_id, 'bob');
  assert.equal(msg.name, 'BOB');
  await wsPage.screenshot({ path: OUT + 'phoenix-websocket.png' });
  await lpPage.screenshot({ path: OUT + 'phoenix-longpoll.png' });
});

step('bob leaves and alice sees it', async () => {
  await lpPage.evaluate(() => new Promise((resolve) => window.phx.channel.leave().receive('ok', resolve)));
  await present(wsPage, ['alice'], 'alice alone');
  assert.deepEqual(problems, [], 'no page errors');
});
