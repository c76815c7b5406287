// Ripple chat demo: rooms, a live user list from presence, typing
// indicators, chat messages and automatic reconnects, in plain JavaScript.
//
// Wire protocol: Phoenix Channels V2 on /socket/websocket?vsn=2.0.0, every
// message [join_ref, ref, topic, event, payload], on the demo topic
// room:<room> (SPEC sections 9 and 10):
//   client → phx_join {"user_id","name","recover"?:{"epoch","offset"}}
//   server → phx_reply {"status":"ok","response":{"epoch","offset","recovered"?}},
//            then, when recovered, every chat line sent while this page was
//            away, in order
//   server → presence_state / presence_diff   (the user list)
//   client → typing / stop_typing              (set_presence)
//   client → chat {"text","ts"}  broadcast to every member with user_id and
//            name; each arrives with "<epoch>:<offset>" in its ref slot,
//            which is where the page recovers from after a reconnect
//   client → heartbeat on topic "phoenix" every 30 s
//
// Every piece of user data is rendered with textContent, never as HTML.
'use strict';

(() => {
  const TYPING_IDLE_MS = 3000;      // stop_typing after this much input silence
  const BACKOFF_MIN_MS = 500;       // first reconnect delay
  const BACKOFF_MAX_MS = 15000;     // reconnect delay cap
  const CONNECT_TIMEOUT_MS = 10000; // give up on a handshake after this long
  const HEARTBEAT_MS = 30000;       // Phoenix heartbeat interval
  const MAX_MESSAGES = 500;         // chat lines kept in the page
  const MAX_TEXT = 2000;            // characters per chat message
  const ROOM_RE = /^[A-Za-z0-9_-]{1,32}$/;
  const KEY_USER = 'ripple.userId';
  const KEY_NAME = 'ripple.name';
  const KEY_ROOM = 'ripple.room';

  const $ = (id) => document.getElementById(id);
  const el = {
    joinView: $('join-view'), joinForm: $('join-form'), name: $('name'), room: $('room'),
    joinError: $('join-error'), chatView: $('chat-view'), roomInfo: $('room-info'),
    roomName: $('room-name'), conn: $('conn'), connText: $('conn-text'), retry: $('retry'),
    leave: $('leave'), messages: $('messages'), typing: $('typing'), composer: $('composer'),
    text: $('text'), send: $('send'), users: $('users'), userCount: $('user-count'),
  };

  // ---- small helpers ------------------------------------------------------

  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  function load(key) {
    try { return localStorage.getItem(key); } catch { return null; }
  }

  function save(key, value) {
    try { localStorage.setItem(key, value); } catch { /* private mode: keep going */ }
  }

  // One user id per browser profile, shared by all its tabs, so presence
  // groups the tabs of one browser under one user.
  function browserUserId() {
    let id = load(KEY_USER);
    if (!id) {
      id = 'u-' + randomId();
      save(KEY_USER, id);
    }
    return id;
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function initials(name) {
    const parts = String(name).trim().split(/\s+/).filter(Boolean);
    const letters = parts.slice(0, 2).map((p) => Array.from(p)[0].toUpperCase());
    return letters.join('') || '?';
  }

  function hue(s) {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  function timeOf(ts) {
    const d = new Date(typeof ts === 'number' && Number.isFinite(ts) ? ts : Date.now());
    return {
      short: d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
      full: d.toLocaleString(),
      iso: d.toISOString(),
    };
  }

  // ---- state --------------------------------------------------------------

  const me = { userId: browserUserId(), tabId: randomId(), name: '', room: '' };

  const conn = {
    ws: null,          // the current WebSocket, or null
    inRoom: false,     // true from "Join room" until "Leave"
    synced: false,     // presence_state received on the current socket
    everSynced: false, // presence_state received at least once in this room
    attempt: 0,        // failed connects since the last good one
    retryTimer: 0,
    retryAt: 0,
    tickTimer: 0,
    openTimer: 0,
    heartbeatTimer: 0,
    ref: 0,            // the last ref this page used
    joinRef: '',       // ref of the current socket's join
    last: null,        // {epoch, offset} of the last chat line shown, for recovery
  };

  // user_id → metas, as presence reported them (a Map: user ids are data).
  let presences = new Map();

  const typing = { on: false, timer: 0 };

  // ---- connection state display ------------------------------------------

  function setConn(stateName, text) {
    el.conn.dataset.state = stateName;
    el.connText.textContent = text;
    el.retry.hidden = stateName !== 'waiting';
    const usable = stateName === 'online';
    el.text.disabled = !usable;
    el.send.disabled = !usable;
    el.chatView.classList.toggle('offline', !usable);
  }

  function showCountdown() {
    const s = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    const what = conn.everSynced ? 'Disconnected' : 'Cannot reach the server';
    setConn('waiting', `${what} · retrying in ${s}s`);
  }

  // ---- connecting and reconnecting ---------------------------------------

  function socketURL() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/socket/websocket?vsn=2.0.0`;
  }

  function topic() {
    return `room:${me.room}`;
  }

  function nextRef() {
    conn.ref++;
    return String(conn.ref);
  }

  function connect() {
    clearTimeout(conn.retryTimer);
    clearInterval(conn.tickTimer);
    conn.synced = false;
    setConn('connecting', conn.attempt === 0 && !conn.everSynced ? 'Connecting…' : 'Reconnecting…');
    let ws;
    try {
      ws = new WebSocket(socketURL());
    } catch (err) {
      scheduleReconnect();
      return;
    }
    conn.ws = ws;
    conn.openTimer = setTimeout(() => {
      if (ws.readyState === WebSocket.CONNECTING) ws.close();
    }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      if (conn.ws !== ws) return;
      clearTimeout(conn.openTimer);
      setConn('joining', 'Joining…');
      const params = { user_id: me.userId, name: me.name };
      if (conn.last) params.recover = conn.last;
      conn.joinRef = nextRef();
      ws.send(JSON.stringify([conn.joinRef, conn.joinRef, topic(), 'phx_join', params]));
      clearInterval(conn.heartbeatTimer);
      conn.heartbeatTimer = setInterval(() => {
        if (conn.ws === ws && ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify([null, nextRef(), 'phoenix', 'heartbeat', {}]));
        }
      }, HEARTBEAT_MS);
    };
    ws.onmessage = (ev) => {
      if (conn.ws === ws) receive(ev.data);
    };
    ws.onclose = () => {
      clearTimeout(conn.openTimer);
      if (conn.ws === ws) clearInterval(conn.heartbeatTimer);
      if (conn.ws !== ws) return;
      conn.ws = null;
      disconnected();
    };
  }

  function disconnected() {
    conn.synced = false;
    typing.on = false;
    clearTimeout(typing.timer);
    tabs.leaving();
    renderUsers();
    if (!conn.inRoom) return;
    if (conn.everSynced && conn.attempt === 0) notice('Connection lost. Reconnecting…', 'warn');
    scheduleReconnect();
  }

  function scheduleReconnect() {
    // Capped exponential backoff with jitter, so a restarted server is not
    // hit by every client at the same instant.
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** conn.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    conn.attempt++;
    conn.retryAt = Date.now() + delay;
    showCountdown();
    conn.tickTimer = setInterval(showCountdown, 1000);
    conn.retryTimer = setTimeout(connect, delay);
  }

  function retryNow() {
    if (conn.inRoom && !conn.ws) connect();
  }

  // push sends event with payload on the room's topic.
  function push(event, payload) {
    if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN || !conn.joinRef) return false;
    conn.ws.send(JSON.stringify([conn.joinRef, nextRef(), topic(), event, payload || {}]));
    return true;
  }

  // ---- incoming messages --------------------------------------------------

  function receive(raw) {
    let msg;
    try { msg = JSON.parse(raw); } catch { return; }
    if (!Array.isArray(msg) || msg.length !== 5) return;
    const [, ref, top, event, payload] = msg;
    if (top !== topic()) return; // heartbeat replies
    if (event === 'phx_reply') {
      if (!isObject(payload)) return;
      if (ref === conn.joinRef) joined(payload);
      else if (payload.status === 'error') notice(`Server error: ${reasonOf(payload.response)}`, 'error');
    } else if (event === 'phx_error' || event === 'phx_close') {
      if (conn.ws) conn.ws.close(); // rejoin through a reconnect
    } else if (!isObject(payload)) {
      return;
    } else if (event === 'presence_state') {
      // One per join; a later one can only be another member's echo.
      if (!conn.synced) presenceState(payload);
    } else if (event === 'presence_diff') {
      presenceDiff(payload);
    } else if (event === 'chat' || (event === 'message' && payload.type === 'chat')) {
      if (seen(ref)) return;
      chat(payload);
    }
  }

  function reasonOf(resp) {
    return isObject(resp) && typeof resp.reason === 'string' ? resp.reason : 'unknown';
  }

  // joined handles the answer to the join. Recovered: the lines sent while
  // the page was away follow, in order. Not recovered (the server restarted,
  // or too many lines went by): say so, and go on from the newest.
  function joined(reply) {
    const resp = isObject(reply.response) ? reply.response : {};
    if (reply.status !== 'ok') {
      notice(`Could not join: ${reasonOf(resp)}`, 'error');
      return;
    }
    if (resp.recovered === false) notice('Some messages sent while you were away could not be recovered.', 'warn');
    if (resp.recovered !== true && typeof resp.epoch === 'string' && Number.isInteger(resp.offset)) {
      conn.last = { epoch: resp.epoch, offset: resp.offset };
    }
  }

  // seen records a chat line's position ("<epoch>:<offset>" in the ref
  // slot) and reports whether the page has shown it already.
  function seen(ref) {
    if (typeof ref !== 'string') return false;
    const i = ref.lastIndexOf(':');
    const epoch = ref.slice(0, i);
    const offset = Number(ref.slice(i + 1));
    if (i <= 0 || !Number.isInteger(offset)) return false;
    if (conn.last && conn.last.epoch === epoch && offset <= conn.last.offset) return true;
    conn.last = { epoch, offset };
    return false;
  }

  // metasOf returns the well-formed metas of one presence entry.
  function metasOf(entry) {
    if (!isObject(entry) || !Array.isArray(entry.metas)) return [];
    return entry.metas.filter(isObject);
  }

  function toMap(payload) {
    const m = new Map();
    for (const [id, entry] of Object.entries(payload)) {
      const metas = metasOf(entry);
      if (metas.length) m.set(id, metas);
    }
    return m;
  }

  function displayName(id, metas) {
    for (const meta of metas || []) {
      if (typeof meta.name === 'string' && meta.name.trim()) return meta.name.trim();
    }
    return id === me.userId ? me.name : 'Someone';
  }

  // The full state: replaces everything (seed: "Initial state - replace all").
  function presenceState(payload) {
    const before = presences;
    presences = toMap(payload);
    const reconnected = conn.everSynced;
    conn.synced = true;
    conn.everSynced = true;
    conn.attempt = 0;
    clearInterval(conn.tickTimer);
    setConn('online', 'Connected');
    if (reconnected) {
      notice('Reconnected', 'ok');
      // Say who came and went while this tab was away.
      for (const [id, metas] of presences) {
        if (!before.has(id) && id !== me.userId) notice(`${displayName(id, metas)} joined`, 'join');
      }
      for (const [id, metas] of before) {
        if (!presences.has(id) && id !== me.userId) notice(`${displayName(id, metas)} left`, 'leave');
      }
    } else {
      notice(`You joined #${me.room}`, 'ok');
    }
    renderUsers();
    tabs.joined();
    // In user mode the room hears nothing about a user's second tab. If this
    // tab is one, republish our presence so everyone sees the new count.
    if ((presences.get(me.userId) || []).length > 1) announce();
  }

  // A diff, as in the seed's client code: a join carries the user's full
  // current metas and replaces them; a leave removes the user. Metas a leave
  // lists are retracted by phx_ref, so a diff that both joins and leaves one
  // user keeps the connections it joined.
  function presenceDiff(payload) {
    const joins = isObject(payload.joins) ? payload.joins : {};
    const leaves = isObject(payload.leaves) ? payload.leaves : {};
    for (const [id, entry] of Object.entries(joins)) {
      const metas = metasOf(entry);
      if (!metas.length) continue;
      if (!presences.has(id) && id !== me.userId) notice(`${displayName(id, metas)} joined`, 'join');
      presences.set(id, metas);
    }
    for (const [id, entry] of Object.entries(leaves)) {
      const held = presences.get(id);
      if (!held) continue;
      const left = metasOf(entry);
      const refs = new Set(left.map((m) => m.phx_ref));
      const joinedNow = Object.prototype.hasOwnProperty.call(joins, id);
      const rest = joinedNow ? held.filter((m) => !refs.has(m.phx_ref)) : [];
      if (rest.length) {
        presences.set(id, rest);
      } else {
        presences.delete(id);
        if (id !== me.userId) notice(`${displayName(id, held)} left`, 'leave');
      }
    }
    renderUsers();
  }

  // ---- user list and typing line -----------------------------------------

  function isTyping(metas) {
    return metas.some((m) => m.state === 'typing');
  }

  function renderUsers() {
    const rows = [...presences].map(([id, metas]) => ({
      id, metas, name: displayName(id, metas), self: id === me.userId,
    }));
    rows.sort((a, b) => (b.self - a.self) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));

    const items = rows.map((u) => {
      const devices = u.metas.length;
      const state = isTyping(u.metas) ? 'typing' : 'online';
      const li = make('li', 'user');
      li.dataset.userId = u.id;
      li.dataset.devices = String(devices);
      li.dataset.state = state;
      if (u.self) li.classList.add('self');

      const avatar = make('span', 'avatar', initials(u.name));
      avatar.style.setProperty('--hue', String(hue(u.id)));
      avatar.setAttribute('aria-hidden', 'true');

      const body = make('span', 'user-body');
      const line = make('span', 'user-name', u.name);
      if (u.self) line.append(make('span', 'you', ' (you)'));
      const status = make('span', 'user-status');
      status.append(make('span', 'state', state === 'typing' ? 'typing…' : 'online'));
      status.append(make('span', 'sep', ' · '));
      const count = make('span', 'devices', plural(devices, 'connection', 'connections'));
      count.title = 'Connections presence reports for this user (one per open tab)';
      status.append(count);
      body.append(line, status);

      li.append(avatar, body);
      return li;
    });
    el.users.replaceChildren(...items);
    el.userCount.textContent = String(rows.length);
    el.users.classList.toggle('stale', !conn.synced);

    const typers = rows.filter((u) => !u.self && isTyping(u.metas)).map((u) => u.name);
    let text = '';
    if (typers.length === 1) text = `${typers[0]} is typing…`;
    else if (typers.length === 2) text = `${typers[0]} and ${typers[1]} are typing…`;
    else if (typers.length > 2) text = `${typers.length} people are typing…`;
    el.typing.textContent = text;
    el.typing.classList.toggle('active', text !== '');
  }

  // ---- messages -----------------------------------------------------------

  function nearBottom() {
    const m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 48;
  }

  function append(li) {
    const stick = nearBottom();
    el.messages.append(li);
    while (el.messages.childElementCount > MAX_MESSAGES) el.messages.firstElementChild.remove();
    if (stick) el.messages.scrollTop = el.messages.scrollHeight;
  }

  function chat(msg) {
    if (typeof msg.text !== 'string' || msg.text === '') return;
    const userId = typeof msg.user_id === 'string' ? msg.user_id : '';
    const name = typeof msg.name === 'string' && msg.name.trim() ? msg.name.trim() : 'Someone';
    const t = timeOf(msg.ts);

    const li = make('li', 'msg');
    if (userId === me.userId) li.classList.add('mine');
    li.dataset.userId = userId;

    const avatar = make('span', 'avatar', initials(name));
    avatar.style.setProperty('--hue', String(hue(userId || name)));
    avatar.setAttribute('aria-hidden', 'true');

    const bubble = make('div', 'bubble');
    const meta = make('div', 'msg-meta');
    meta.append(make('span', 'msg-name', name));
    const time = make('time', 'msg-time', t.short);
    time.dateTime = t.iso;
    time.title = t.full;
    meta.append(time);
    bubble.append(meta, make('div', 'msg-text', msg.text.slice(0, MAX_TEXT)));
    li.append(avatar, bubble);
    append(li);
  }

  function notice(text, kind) {
    const li = make('li', `notice ${kind || ''}`.trim());
    li.append(make('span', 'notice-text', text));
    const t = timeOf(Date.now());
    const time = make('time', 'msg-time', t.short);
    time.dateTime = t.iso;
    li.append(time);
    append(li);
  }

  // ---- typing indicator ---------------------------------------------------

  // announce republishes this connection's presence (set_presence with the
  // current state); in user mode the server then sends everyone a join with
  // this user's full current metas.
  function announce() {
    push(typing.on ? 'typing' : 'stop_typing');
  }

  function startTyping() {
    if (!conn.synced) return;
    if (!typing.on && push('typing')) typing.on = true;
    clearTimeout(typing.timer);
    typing.timer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typing.timer);
    if (!typing.on) return;
    typing.on = false;
    push('stop_typing');
  }

  // ---- tabs of this browser ----------------------------------------------

  // In user mode a tab that closes while its user has other tabs open makes
  // no diff, so nobody learns the lower count. The tabs of one browser share
  // the user id; they find each other over a BroadcastChannel and watch each
  // other's Web Lock (released when a tab closes or crashes). When a sibling
  // in the same room goes away, one remaining tab republishes its presence,
  // and the room sees the user's real connections again.
  const tabs = (() => {
    const channel = 'BroadcastChannel' in window ? new BroadcastChannel('ripple-tabs') : null;
    const locks = navigator.locks || null;
    const lockName = (tab) => `ripple-tab:${tab}`;
    const siblings = new Map(); // tabId → room it is in ('' when not connected)
    const watched = new Set();
    let republishTimer = 0;
    let held = Promise.resolve();

    if (locks) {
      held = new Promise((resolve) => {
        locks.request(lockName(me.tabId), () => {
          resolve();
          return new Promise(() => {}); // hold for the life of the page
        }).catch(resolve);
      });
    }

    function post(type) {
      if (channel) channel.postMessage({ type, tab: me.tabId, user: me.userId, room: conn.synced ? me.room : '' });
    }

    function watch(tab) {
      if (!locks || watched.has(tab)) return;
      watched.add(tab);
      // Granted only once the sibling's lock is released: the tab is gone.
      locks.request(lockName(tab), () => gone(tab)).catch(() => {});
    }

    function gone(tab) {
      const room = siblings.get(tab);
      siblings.delete(tab);
      watched.delete(tab);
      if (room && conn.synced && room === me.room) scheduleRepublish();
    }

    function scheduleRepublish() {
      // Wait until the server has surely processed the sibling's close, and
      // spread the tabs out so one of them usually does it for all.
      clearTimeout(republishTimer);
      republishTimer = setTimeout(() => {
        if (!conn.synced) return;
        announce();
        post('republished');
      }, 400 + Math.random() * 400);
    }

    if (channel) {
      channel.onmessage = (ev) => {
        const m = ev.data;
        if (!isObject(m) || m.user !== me.userId || m.tab === me.tabId) return;
        const before = siblings.get(m.tab);
        switch (m.type) {
          case 'hello':
          case 'here':
            siblings.set(m.tab, m.room);
            watch(m.tab);
            if (m.type === 'hello') held.then(() => post('here'));
            // A sibling that left our room while staying open.
            if (before && before === me.room && m.room !== me.room && conn.synced) scheduleRepublish();
            break;
          case 'bye':
            siblings.set(m.tab, '');
            if (before && before === me.room && conn.synced) scheduleRepublish();
            break;
          case 'republished':
            if (m.room === me.room) clearTimeout(republishTimer);
            break;
        }
      };
      held.then(() => post('hello'));
    }

    return {
      joined() { held.then(() => post('hello')); },
      leaving() { clearTimeout(republishTimer); post('bye'); },
    };
  })();

  // ---- joining and leaving a room ----------------------------------------

  function showJoin() {
    el.chatView.hidden = true;
    el.roomInfo.hidden = true;
    el.joinView.hidden = false;
    document.title = 'Ripple chat';
    el.name.value = me.name || load(KEY_NAME) || '';
    el.room.value = me.room || roomFromHash() || load(KEY_ROOM) || 'lobby';
    (el.name.value ? el.room : el.name).focus();
  }

  function roomFromHash() {
    const m = /^#room=([^&]+)/.exec(location.hash);
    if (!m) return '';
    let r = '';
    try { r = decodeURIComponent(m[1]); } catch { return ''; }
    return ROOM_RE.test(r) ? r : '';
  }

  function joinRoom(name, room) {
    me.name = name;
    me.room = room;
    save(KEY_NAME, name);
    save(KEY_ROOM, room);
    if (location.hash !== `#room=${room}`) history.replaceState(null, '', `#room=${room}`);
    document.title = `#${room} · Ripple chat`;
    el.roomName.textContent = `#${room}`;
    el.joinView.hidden = true;
    el.roomInfo.hidden = false;
    el.chatView.hidden = false;
    el.messages.replaceChildren();
    presences = new Map();
    renderUsers();
    Object.assign(conn, { inRoom: true, synced: false, everSynced: false, attempt: 0, last: null });
    connect();
    el.text.focus();
  }

  function leaveRoom() {
    conn.inRoom = false;
    stopTyping();
    clearTimeout(conn.retryTimer);
    clearInterval(conn.tickTimer);
    const ws = conn.ws;
    conn.ws = null;
    if (ws) ws.close(1000, 'left the room');
    disconnected();
    setConn('idle', 'Not connected');
    history.replaceState(null, '', location.pathname + location.search);
    showJoin();
  }

  el.joinForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = el.name.value.trim().replace(/\s+/g, ' ');
    const room = el.room.value.trim();
    let err = '';
    if (!name) err = 'Please enter a name.';
    else if (!ROOM_RE.test(room)) err = 'Room names use letters, digits, “-” and “_” (up to 32).';
    el.joinError.textContent = err;
    el.joinError.hidden = !err;
    if (!err) joinRoom(name, room);
  });

  el.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = el.text.value.trim();
    if (!text) return;
    const ok = push('chat', { text: text.slice(0, MAX_TEXT), ts: Date.now() });
    if (!ok) return;
    el.text.value = '';
    stopTyping();
  });

  el.text.addEventListener('input', () => {
    if (el.text.value.trim()) startTyping();
    else stopTyping();
  });

  el.retry.addEventListener('click', retryNow);
  el.leave.addEventListener('click', leaveRoom);
  window.addEventListener('online', retryNow);
  window.addEventListener('pagehide', () => {
    tabs.leaving();
    if (conn.ws) conn.ws.close(1000, 'page closed');
  });

  const hashRoom = roomFromHash();
  const savedName = load(KEY_NAME);
  if (hashRoom && savedName) joinRoom(savedName, hashRoom);
  else showJoin();
})();
