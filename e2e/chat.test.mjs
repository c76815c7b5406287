// Browser test of the chat demo page against a running Ripple server.
//
// Two browser contexts are two users (each context has its own localStorage,
// so its own user id); a second page in the first context is a second tab of
// the same user. Run through e2e/run.sh, which starts the real server and
// sets RIPPLE_URL. Screenshots go to e2e/out/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile, open } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.RIPPLE_URL;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Set by run.sh so the test can take the server down and bring it back.
const SERVER_BIN = process.env.RIPPLE_BIN;
const SERVER_PID_FILE = process.env.RIPPLE_PID_FILE;
const SERVER_LOG = process.env.RIPPLE_RESTART_LOG;
const OUT = fileURLToPath(new URL('./out/', import.meta.url));
const WAIT_MS = 10000;
const ROOM = `e2e-${Date.now().toString(36)}`;
const INJECTION = '<img src=x onerror="window.__pwned=1"><b>not bold</b> & <script>window.__pwned=2</script>';

let browser;
let alice;  // context of user 1
let bob;    // context of user 2
let a1;     // Alice's first tab
let a2;     // Alice's second tab (same context: same user)
let b1;     // Bob's tab
let aliceId;
let bobId;
const problems = []; // page errors and console errors from every page
let failed = false;
let serverRestarting = false; // the reconnect step has stopped the server

// step runs one stage of the scenario; once a stage fails the later ones
// are skipped (they depend on it) and a screenshot of each page is saved.
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
      for (const [label, page] of [['alice1', a1], ['alice2', a2], ['bob', b1]]) {
        if (page && !page.isClosed()) {
          await page.screenshot({ path: `${OUT}FAILED-${slug}-${label}.png` }).catch(() => {});
        }
      }
      throw err;
    }
  });
}

async function shot(page, file) {
  await page.screenshot({ path: OUT + file, fullPage: false });
}

function watch(page, label) {
  page.on('pageerror', (err) => problems.push(`${label}: page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // While the server is down on purpose, the browser itself logs each
    // refused reconnect attempt; those are expected.
    if (serverRestarting && /^WebSocket connection to .* failed/.test(msg.text())) return;
    problems.push(`${label}: console error: ${msg.text()}`);
  });
  return page;
}

// until waits for a condition evaluated in the page and, on timeout, says
// what the page showed instead.
async function until(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 50 });
  } catch (err) {
    const seen = await page.evaluate(() => ({
      conn: document.getElementById('conn')?.dataset.state,
      users: [...document.querySelectorAll('#users li')].map((li) => ({
        name: li.querySelector('.user-name')?.textContent, devices: li.dataset.devices, state: li.dataset.state,
      })),
      typing: document.getElementById('typing')?.textContent,
      lines: [...document.querySelectorAll('#messages li')].slice(-6).map((li) => li.textContent),
    })).catch(() => 'page unavailable');
    throw new Error(`timed out waiting for ${what}; page shows ${JSON.stringify(seen)}`, { cause: err });
  }
}

function userRow(page, id) {
  return page.evaluate((uid) => {
    const li = document.querySelector(`#users li[data-user-id="${CSS.escape(uid)}"]`);
    if (!li) return null;
    return {
      name: li.querySelector('.user-name').firstChild.textContent,
      devices: Number(li.dataset.devices),
      state: li.dataset.state,
      text: li.textContent,
    };
  }, id);
}

const hasUser = (page, id, devices, what) => until(page, what,
  ([uid, n]) => {
    const li = document.querySelector(`#users li[data-user-id="${CSS.escape(uid)}"]`);
    return !!li && (n === null || li.dataset.devices === String(n));
  }, [id, devices]);

const online = (page, what) => until(page, what, () => document.getElementById('conn').dataset.state === 'online');

// serverDown waits until the server no longer accepts connections. (Its
// process may linger as a zombie of run.sh, so the pid cannot tell.)
async function serverDown() {
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      await fetch(BASE + '/', { signal: AbortSignal.timeout(1000) });
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error('server still answering 15 s after SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function join(page, name) {
  await page.goto(BASE + '/');
  await page.fill('#name', name);
  await page.fill('#room', ROOM);
  await page.click('#join');
  await online(page, `${name} connected`);
  return page.evaluate(() => localStorage.getItem('ripple.userId'));
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#send');
}

const showsMessage = (page, name, text, what) => until(page, what,
  ([n, t]) => [...document.querySelectorAll('#messages li.msg')].some((li) =>
    li.querySelector('.msg-name').textContent === n && li.querySelector('.msg-text').textContent === t),
  [name, text]);

before(async () => {
  await mkdir(OUT, { recursive: true });
  if (!BASE) throw new Error('RIPPLE_URL is not set: run e2e/run.sh, which starts the server');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const viewport = { width: 1100, height: 700 };
  alice = await browser.newContext({ viewport, colorScheme: 'light' });
  bob = await browser.newContext({ viewport, colorScheme: 'light' });
});

after(async () => {
  if (browser) await browser.close();
  await writeFile(OUT + 'problems.txt', problems.join('\n') + '\n').catch(() => {});
});

step('the page is served with its assets and no external requests', async () => {
  a1 = watch(await alice.newPage(), 'alice1');
  const requests = [];
  a1.on('request', (r) => requests.push(r.url()));
  const resp = await a1.goto(BASE + '/');
  assert.equal(resp.status(), 200);
  assert.match(resp.headers()['content-type'], /^text\/html/);
  await a1.waitForSelector('#join-form');
  await shot(a1, '01-join-form.png');
  const foreign = requests.filter((u) => !u.startsWith(BASE) && !u.startsWith('data:'));
  assert.deepEqual(foreign, [], 'requests to other origins');
  for (const asset of ['/app.js', '/style.css']) {
    assert.ok(requests.includes(BASE + asset), `${asset} was loaded`);
  }
});

step('Alice joins and sees herself with one connection', async () => {
  aliceId = await join(a1, 'Alice');
  assert.match(aliceId, /^u-/);
  await hasUser(a1, aliceId, 1, 'Alice listed with 1 connection');
  const row = await userRow(a1, aliceId);
  assert.equal(row.name, 'Alice');
  assert.match(row.text, /\(you\)/);
  assert.match(row.text, /1 connection\b/);
});

step("Alice's second tab is the same user with two connections", async () => {
  a2 = watch(await alice.newPage(), 'alice2');
  // Same browser profile: the name is remembered and the room comes from the link.
  await a2.goto(`${BASE}/#room=${ROOM}`);
  await online(a2, 'second tab connected');
  const id2 = await a2.evaluate(() => localStorage.getItem('ripple.userId'));
  assert.equal(id2, aliceId, 'tabs of one browser share the user id');
  await hasUser(a2, aliceId, 2, 'second tab lists Alice with 2 connections');
  // The second tab republishes its presence, so the first tab learns the count too.
  await hasUser(a1, aliceId, 2, 'first tab lists Alice with 2 connections');
  assert.equal(await a1.locator('#users li').count(), 1, 'Alice is listed once');
});

step('Bob joins: both users listed, Alice with 2 connections', async () => {
  b1 = watch(await bob.newPage(), 'bob');
  bobId = await join(b1, 'Bob');
  assert.notEqual(bobId, aliceId);
  await hasUser(b1, aliceId, 2, 'Bob sees Alice with 2 connections');
  await hasUser(b1, bobId, 1, 'Bob sees himself with 1 connection');
  for (const page of [a1, a2]) {
    await hasUser(page, bobId, 1, 'Alice sees Bob');
    await hasUser(page, aliceId, 2, 'Alice still has 2 connections');
    await until(page, 'a "Bob joined" notice',
      () => [...document.querySelectorAll('#messages li.notice')].some((li) => li.textContent.includes('Bob joined')));
  }
  assert.equal(await b1.locator('#users li').count(), 2);
  assert.equal(await b1.textContent('#user-count'), '2');
});

step('messages reach the other user and the other tab, with names and times', async () => {
  await say(a1, 'Hello Bob! ¿Qué tal? – ünïcödé ✓');
  for (const page of [b1, a1, a2]) await showsMessage(page, 'Alice', 'Hello Bob! ¿Qué tal? – ünïcödé ✓', 'Alice\'s message');
  await say(b1, 'Hi Alice, nice to see you.');
  for (const page of [a1, a2, b1]) await showsMessage(page, 'Bob', 'Hi Alice, nice to see you.', 'Bob\'s reply');
  const time = await b1.locator('#messages li.msg .msg-time').first().textContent();
  assert.match(time, /\d{1,2}:\d{2}/, 'a message shows its time');
  assert.equal(await b1.locator('#messages li.msg.mine').count(), 1, 'Bob\'s own message is marked as his');
  await shot(a1, '02-alice-chat.png');
  await shot(b1, '03-bob-chat.png');
});

step('lines sent while the pages are disconnected appear after they reconnect, once and in order', async () => {
  const api = async (name, body) => {
    const res = await fetch(`${BASE}/api/${name}`, { method: 'POST', body: JSON.stringify(body) });
    assert.equal(res.status, 200, `/api/${name}`);
    return res.json();
  };
  const channel = `room:${ROOM}`;
  const { clients } = await api('clients_in', { channel });
  assert.equal(clients.length, 3, 'three pages in the room');
  for (const id of clients) await api('close', { connection_id: id, reason: 'dropped' });
  // Sent at once: every page is still waiting to reconnect (500 ms or so).
  for (let i = 1; i <= 3; i++) {
    const payload = { text: `while away ${i}`, user_id: 'ripple-bot', name: 'Bot', ts: Date.now() };
    await api('broadcast_room', { channel, message: JSON.stringify({ event: 'chat', payload }) });
  }
  for (const [page, who] of [[a1, 'Alice'], [a2, "Alice's second tab"], [b1, 'Bob']]) {
    await online(page, `${who} reconnected`);
    await showsMessage(page, 'Bot', 'while away 3', `${who} recovers the lines sent while away`);
    const lines = await page.evaluate(() => [...document.querySelectorAll('#messages li.msg .msg-text')]
      .map((e) => e.textContent).filter((t) => t.startsWith('while away')));
    assert.deepEqual(lines, ['while away 1', 'while away 2', 'while away 3'], `${who}: each line once, in order`);
  }
  await hasUser(b1, aliceId, 2, 'Bob sees both of Alice\'s tabs again');
  await shot(b1, '03b-bob-recovered.png');
});

step('typing shows on the other side and clears after idle and on send', async () => {
  await b1.fill('#text', 'I am writing someth');
  await until(a1, 'Bob typing', () => document.getElementById('typing').textContent === 'Bob is typing…');
  const row = await userRow(a1, bobId);
  assert.equal(row.state, 'typing');
  assert.equal(await b1.textContent('#typing'), '', 'nobody sees their own typing line');
  await shot(a1, '04-alice-sees-bob-typing.png');
  // Idle: the page sends stop_typing after a few quiet seconds.
  await until(a1, 'typing cleared after idle', () => document.getElementById('typing').textContent === '');
  assert.equal((await userRow(a1, bobId)).state, 'online');
  // Typing again, then sending clears it at once.
  await b1.type('#text', 'ing');
  await until(a1, 'Bob typing again', () => document.getElementById('typing').textContent === 'Bob is typing…');
  const t0 = Date.now();
  await b1.click('#send');
  await until(a1, 'typing cleared on send', () => document.getElementById('typing').textContent === '');
  assert.ok(Date.now() - t0 < 2500, 'cleared on send, not by the idle timer');
  await showsMessage(a1, 'Bob', 'I am writing something', 'the sent message');
});

step('a message containing HTML is shown as text', async () => {
  await say(b1, INJECTION);
  for (const page of [a1, a2, b1]) {
    await showsMessage(page, 'Bob', INJECTION, 'the HTML message as text');
    const found = await page.evaluate(() => ({
      img: document.querySelectorAll('#messages img, #messages b, #messages script').length,
      pwned: window.__pwned ?? null,
    }));
    assert.deepEqual(found, { img: 0, pwned: null });
  }
  await shot(a1, '05-html-as-text.png');
});

step("closing Alice's second tab keeps her listed with one connection", async () => {
  // (When every page was dropped at once above, Bob may have come back
  // before Alice and seen her leave then: count only what this close does.)
  const leaves = async () => (await b1.locator('#messages li.notice').allTextContents()).filter((n) => n.includes('Alice left')).length;
  const before = await leaves();
  await a2.close();
  // The remaining tab republishes Alice's presence; everyone sees 1 connection.
  await hasUser(b1, aliceId, 1, 'Bob sees Alice with 1 connection');
  await hasUser(a1, aliceId, 1, 'Alice\'s tab shows 1 connection');
  assert.equal(await leaves(), before, 'no leave notice while a tab remains');
  await shot(b1, '06-bob-after-alice-closed-a-tab.png');
});

step('the page is usable on a phone-sized screen', async () => {
  await b1.setViewportSize({ width: 390, height: 760 });
  await hasUser(b1, aliceId, 1, 'list still shown');
  const overflow = await b1.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, 'no horizontal scrolling');
  assert.ok(await b1.isVisible('#text'), 'composer visible');
  await shot(b1, '07-bob-phone.png');
  await b1.emulateMedia({ colorScheme: 'dark' });
  await shot(b1, '07-bob-phone-dark.png');
  await b1.emulateMedia({ colorScheme: 'light' });
  await b1.setViewportSize({ width: 1100, height: 700 });
});

// Server restarts: SIGTERM closes every connection (1001), the pages show
// that they are offline and retry with backoff, and recover once the server
// is back on the same address.
step('pages reconnect after a server restart', async (t) => {
  if (!SERVER_BIN || !SERVER_PID_FILE) {
    t.skip('RIPPLE_BIN/RIPPLE_PID_FILE not set (run e2e/run.sh)');
    return;
  }
  const pid = Number((await readFile(SERVER_PID_FILE, 'utf8')).trim());
  serverRestarting = true;
  process.kill(pid, 'SIGTERM');
  await serverDown();
  for (const [page, who] of [[a1, 'Alice'], [b1, 'Bob']]) {
    await until(page, `${who} sees the connection down`,
      () => document.getElementById('conn').dataset.state === 'waiting' &&
        /Disconnected · retrying in \d+s/.test(document.getElementById('conn-text').textContent) &&
        document.getElementById('send').disabled);
  }
  await shot(b1, '08-bob-server-down.png');

  const addr = new URL(BASE).host;
  const log = await open(SERVER_LOG || '/dev/null', 'w');
  const child = spawn(SERVER_BIN, ['-addr', addr], { stdio: ['ignore', log.fd, log.fd] });
  child.unref();
  await writeFile(SERVER_PID_FILE, `${child.pid}\n`);
  await log.close();

  for (const [page, who] of [[a1, 'Alice'], [b1, 'Bob']]) {
    await online(page, `${who} reconnected`);
    await until(page, `${who} sees the "Reconnected" notice`,
      () => [...document.querySelectorAll('#messages li.notice')].some((li) => li.textContent.startsWith('Reconnected')));
  }
  serverRestarting = false;
  await hasUser(b1, aliceId, 1, 'Bob sees Alice again');
  await hasUser(a1, bobId, 1, 'Alice sees Bob again');
  await say(a1, 'Back online.');
  await showsMessage(b1, 'Alice', 'Back online.', 'a message after the restart');
  await shot(b1, '09-bob-reconnected.png');
});

step("closing Alice's last tab removes her and says she left", async () => {
  const leftNotices = () => b1.evaluate(() =>
    [...document.querySelectorAll('#messages li.notice')].filter((li) => li.textContent.includes('Alice left')).length);
  const before = await leftNotices();
  await a1.close();
  await until(b1, 'Alice gone from the list',
    (uid) => !document.querySelector(`#users li[data-user-id="${CSS.escape(uid)}"]`), aliceId);
  await until(b1, 'a new "Alice left" notice',
    (n) => [...document.querySelectorAll('#messages li.notice')].filter((li) => li.textContent.includes('Alice left')).length > n,
    before);
  assert.equal(await b1.textContent('#user-count'), '1');
  await shot(b1, '10-bob-after-alice-left.png');
});

step('leaving the room returns to the form and stays disconnected', async () => {
  let sockets = 0;
  b1.on('websocket', () => sockets++);
  await b1.click('#leave');
  await b1.waitForSelector('#join-form', { state: 'visible' });
  assert.equal(await b1.inputValue('#name'), 'Bob', 'the name is remembered');
  assert.equal(await b1.inputValue('#room'), ROOM, 'the room is remembered');
  // A negative needs a bounded wait: longer than the first reconnect delay.
  await b1.waitForTimeout(1500);
  assert.equal(sockets, 0, 'no reconnect after leaving');
  assert.equal(await b1.getAttribute('#conn', 'data-state'), 'idle');
  assert.ok(await b1.isHidden('#chat-view'));
});

step('no page errors', async () => {
  assert.deepEqual(problems, []);
});
