/*
 * frontdesk agent console.
 *
 * Plain JS, no build step. Talks to the gateway over the Socket.IO namespace /agent; every
 * client -> server call waits for an acknowledgement ({ok: true, ...} or {ok: false, error}).
 *
 * SECURITY: everything that comes from customers, agents or the server is put into the page with
 * textContent / text nodes (see el() and append()); this file never assigns innerHTML. Tokens come
 * from data- attributes on <body>, so the page needs no inline script (CSP friendly).
 */
(function () {
  'use strict';

  var ACK_TIMEOUT_MS = 10000;
  var TYPING_THROTTLE_MS = 2000;
  var TYPING_IDLE_MS = 3000;
  var CUSTOMER_TYPING_STALE_MS = 15000;
  var ERROR_HIDE_MS = 15000;
  var NOTICE_HIDE_MS = 5000;
  var ROLES = ['customer', 'bot', 'agent', 'system'];
  var CHANNELS = { widget: 'Website', web: 'Website', webchat: 'Website', socketio: 'Website', telegram: 'Telegram', messenger: 'Messenger', facebook: 'Messenger' };
  var ERROR_TEXT = {
    at_capacity: 'You are at capacity. Close or transfer a conversation before claiming another.',
    already_taken: 'Another agent already took this conversation.',
    timeout: 'The server did not answer in time. Check your connection and try again.',
    not_found: 'This conversation no longer exists.',
    forbidden: 'You are not allowed to do that.'
  };

  var body = document.body;
  var $ = function (sel, root) { return (root || document).querySelector(sel); };

  // ---------------------------------------------------------------- DOM helpers (text only)

  /** Create an element with a class name and optional text content (set as text, never HTML). */
  function el(tag, className, textValue) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (textValue !== undefined && textValue !== null) node.textContent = String(textValue);
    return node;
  }
  function append(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return parent;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  function str(v) {
    return v === null || v === undefined ? '' : String(v);
  }

  // ---------------------------------------------------------------- formatting

  function toMs(ts) {
    var n = Number(ts);
    if (!isFinite(n) || n <= 0) return null;
    return n > 1e12 ? n : n * 1000; // unix seconds (or already ms)
  }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function fmtClock(ts) {
    var ms = toMs(ts);
    if (ms === null) return '';
    var d = new Date(ms);
    var now = new Date();
    var hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (d.toDateString() === now.toDateString()) return hm;
    return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' }) + ' ' + hm;
  }
  function fmtDate(ts) {
    var ms = toMs(ts);
    if (ms === null) return '';
    var d = new Date(ms);
    var opts = { day: 'numeric', month: 'short' };
    if (d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric';
    return d.toLocaleDateString(undefined, opts);
  }
  function fmtDuration(seconds) {
    var s = Math.max(0, Math.floor(Number(seconds) || 0));
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + pad(s % 60) + 's';
    var h = Math.floor(m / 60);
    return h + 'h ' + pad(m % 60) + 'm';
  }
  function humanise(code) {
    var t = str(code).replace(/[_-]+/g, ' ').trim();
    return t ? t.charAt(0).toUpperCase() + t.slice(1) : '';
  }
  function channelLabel(ch) {
    var key = str(ch).toLowerCase();
    return CHANNELS[key] || humanise(ch) || 'Unknown channel';
  }
  function customerName(c) {
    if (typeof c === 'string') return c.trim() || 'Anonymous visitor';
    if (c && typeof c === 'object') {
      if (c.name) return str(c.name);
      if (c.email) return str(c.email);
      if (c.id) return 'Visitor ' + str(c.id);
    }
    return 'Anonymous visitor';
  }
  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    return 'm' + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }
  function nowSec() { return Date.now() / 1000; }

  // ---------------------------------------------------------------- state

  var state = {
    me: {
      name: body.getAttribute('data-agent-name') || '',
      display_name: body.getAttribute('data-agent-display-name') || '',
      capacity: Number(body.getAttribute('data-agent-capacity')) || 0,
      status: 'available'
    },
    canned: [],
    tags: [],
    agents: [],
    queue: [],
    skew: 0,             // server clock minus client clock, in seconds
    myOrder: [],         // case ids in the order the server listed them
    my: new Map(),       // case_id -> {case_id, customer, channel, area, state, unread}
    serverListed: new Set(),
    cases: new Map(),    // case_id -> case model (card, entries, notes, tags, earlier, ...)
    openId: null,
    connectedOnce: false
  };

  function caseModel(caseId) {
    var c = state.cases.get(caseId);
    if (!c) {
      c = {
        id: caseId, card: null, loaded: false, entries: new Map(), notes: [], tags: null,
        earlier: [], typing: false, typingTimer: null, draft: '', noteDraft: '', closed: false,
        closedText: '', pendingMsg: null, tagsDirty: false
      };
      state.cases.set(caseId, c);
    }
    return c;
  }

  /** Reduce whatever case-shaped object the server sent to a my_cases item. */
  function summarise(obj) {
    if (!obj || typeof obj !== 'object') return null;
    var src = obj.card && typeof obj.card === 'object' ? obj.card : obj;
    var id = src.case_id !== undefined ? src.case_id : obj.case_id;
    if (id === undefined || id === null) return null;
    return {
      case_id: str(id),
      customer: src.customer !== undefined ? src.customer : obj.customer,
      channel: src.channel !== undefined ? src.channel : obj.channel,
      area: src.area !== undefined ? src.area : obj.area,
      state: src.state !== undefined ? src.state : obj.state,
      unread: Number(obj.unread) || 0
    };
  }

  // ---------------------------------------------------------------- elements

  var E = {
    conn: $('.fc-conn'),
    error: $('.fc-error'),
    errorText: $('.fc-error-text'),
    errorDismiss: $('.fc-error-dismiss'),
    notice: $('.fc-notice'),
    presence: $('.fc-presence'),
    me: $('.fc-me'),
    agentName: $('.fc-agent-name'),
    queue: $('.fc-queue'),
    queueCount: $('.fc-queue-count'),
    queueEmpty: $('.fc-queue-empty'),
    my: $('.fc-my-cases'),
    myCount: $('.fc-my-count'),
    myEmpty: $('.fc-my-empty'),
    caseRoot: $('.fc-case'),
    caseEmpty: $('.fc-case-empty'),
    caseMain: $('.fc-case-main'),
    caseSide: $('.fc-case-side'),
    caseCustomer: $('.fc-case-customer'),
    caseChannel: $('.fc-case-channel'),
    caseState: $('.fc-case-state'),
    closedBanner: $('.fc-closed-banner'),
    card: $('.fc-card'),
    transcript: $('.fc-transcript'),
    typing: $('.fc-typing'),
    composer: $('.fc-composer'),
    reply: $('.fc-reply-text'),
    send: $('.fc-send'),
    canned: $('.fc-canned'),
    transfer: $('.fc-transfer'),
    transferSend: $('.fc-transfer-send'),
    close: $('.fc-close'),
    closeBox: $('.fc-close-confirm-box'),
    closeConfirm: $('.fc-close-confirm'),
    closeCancel: $('.fc-close-cancel'),
    notes: $('.fc-notes'),
    noteText: $('.fc-note-text'),
    noteSend: $('.fc-note-send'),
    tags: $('.fc-tags'),
    tagsSave: $('.fc-tags-save'),
    tagsStatus: $('.fc-tags-status'),
    earlier: $('.fc-earlier'),
    earlierEmpty: $('.fc-earlier-empty')
  };
  var baseTitle = document.title;

  // ---------------------------------------------------------------- errors and notices

  var errorTimer = null;
  var connError = false;
  function showConnError(message) {
    showError(message);
    connError = true;
  }
  function showError(err, prefix) {
    connError = false;
    var code = err && err.code ? String(err.code) : '';
    var message = err && err.message ? String(err.message) : '';
    if (!message) message = ERROR_TEXT[code] || (typeof err === 'string' ? err : 'Something went wrong.');
    E.errorText.textContent = prefix ? prefix + ' ' + message : message;
    if (code) E.error.setAttribute('data-code', code); else E.error.removeAttribute('data-code');
    E.error.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(hideError, ERROR_HIDE_MS);
  }
  function hideError() {
    clearTimeout(errorTimer);
    E.error.hidden = true;
    E.errorText.textContent = '';
    E.error.removeAttribute('data-code');
  }
  E.errorDismiss.addEventListener('click', hideError);

  var noticeTimer = null;
  function notice(message) {
    E.notice.textContent = message;
    E.notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { E.notice.hidden = true; }, NOTICE_HIDE_MS);
  }

  // ---------------------------------------------------------------- socket

  if (typeof window.io !== 'function') {
    showError('The chat client could not be loaded. Reload the page.');
    setConn('offline', 'Offline');
    return;
  }

  var socket = window.io('/agent', {
    auth: { token: body.getAttribute('data-socket-token') || '' },
    transports: ['websocket', 'polling']
  });

  /** Emit with acknowledgement; resolves with the answer when ok, rejects with {code, message}. */
  function call(event, data) {
    return new Promise(function (resolve, reject) {
      socket.timeout(ACK_TIMEOUT_MS).emit(event, data, function (err, res) {
        if (err) { reject({ code: 'timeout', message: ERROR_TEXT.timeout }); return; }
        if (!res || typeof res !== 'object') { reject({ code: 'bad_response', message: 'Unexpected answer from the server.' }); return; }
        if (res.ok) { resolve(res); return; }
        var e = res.error && typeof res.error === 'object' ? res.error : {};
        var code = str(e.code) || 'error';
        reject({ code: code, message: str(e.message) || ERROR_TEXT[code] || humanise(code) || 'Something went wrong.' });
      });
    });
  }

  function setConn(stateName, label) {
    E.conn.setAttribute('data-state', stateName);
    E.conn.textContent = label;
  }

  socket.on('connect', function () {
    setConn('online', 'Connected');
    var reconnected = state.connectedOnce;
    state.connectedOnce = true;
    if (connError) hideError();
    if (reconnected) {
      if (state.openId && !caseModel(state.openId).closed) refreshCase(state.openId);
    }
  });
  socket.on('disconnect', function (reason) {
    stopTyping();
    if (reason === 'io server disconnect') {
      setConn('offline', 'Disconnected');
      showConnError('The server ended this session. Reload the page to sign in again.');
    } else {
      setConn('connecting', 'Reconnecting…');
    }
  });
  socket.on('connect_error', function (err) {
    if (!socket.active) {
      setConn('offline', 'Signed out');
      showConnError('Your console session is no longer valid' + (err && err.message ? ' (' + err.message + ')' : '') + '. Reload the page to sign in again.');
    } else {
      setConn('connecting', 'Reconnecting…');
    }
  });

  socket.on('hello', function (data) {
    data = data || {};
    if (data.agent && typeof data.agent === 'object') {
      var a = data.agent;
      if (a.name) state.me.name = str(a.name);
      if (a.display_name) state.me.display_name = str(a.display_name);
      if (a.capacity !== undefined) state.me.capacity = Number(a.capacity) || 0;
      if (a.status) state.me.status = str(a.status);
    }
    state.canned = Array.isArray(data.canned) ? data.canned : [];
    state.tags = Array.isArray(data.tags) ? data.tags.map(str) : [];
    if (Array.isArray(data.agents)) state.agents = data.agents;
    E.agentName.textContent = state.me.display_name || state.me.name;
    renderPresence();
    renderCanned();
    renderAgents();
    renderMyCases();
    if (state.openId) renderTags(caseModel(state.openId));
  });

  socket.on('queue', function (data) {
    var items = data && Array.isArray(data.items) ? data.items : [];
    // Estimate the server/client clock difference so "waiting for" counters are right even
    // when this computer's clock is off: requested_at + waited_seconds is the server's "now".
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      if (it && isFinite(Number(it.requested_at)) && isFinite(Number(it.waited_seconds)) && it.waited_seconds !== null) {
        state.skew = Number(it.requested_at) + Number(it.waited_seconds) - nowSec();
        break;
      }
    }
    state.queue = items;
    renderQueue();
  });

  socket.on('my_cases', function (data) {
    var items = data && Array.isArray(data.items) ? data.items : [];
    var previous = state.my;
    var next = new Map();
    var order = [];
    var listed = new Set();
    items.forEach(function (raw) {
      var s = summarise(raw);
      if (!s) return;
      var old = previous.get(s.case_id);
      if (raw.unread === undefined && old) s.unread = old.unread;
      if (s.case_id === state.openId) s.unread = 0;
      next.set(s.case_id, s);
      order.push(s.case_id);
      listed.add(s.case_id);
      caseModel(s.case_id).closed = false;
    });
    // The open case was ours and no longer is (transferred or closed elsewhere).
    if (state.openId && state.serverListed.has(state.openId) && !listed.has(state.openId)) {
      var c = caseModel(state.openId);
      if (!c.closed) markClosed(state.openId, 'This conversation is no longer assigned to you.');
    }
    state.my = next;
    state.myOrder = order;
    state.serverListed = listed;
    renderMyCases();
    if (state.openId && next.has(state.openId)) renderCaseHead();
  });

  socket.on('agents', function (data) {
    state.agents = data && Array.isArray(data.items) ? data.items : [];
    renderAgents();
  });

  socket.on('case_message', function (data) {
    if (!data || data.case_id === undefined || !data.entry) return;
    var caseId = str(data.case_id);
    var c = caseModel(caseId);
    var isNew = addEntry(c, data.entry, false);
    if (str(data.entry.role) === 'customer') setCustomerTyping(c, false);
    if (caseId === state.openId) {
      syncTranscript(c);
    } else if (isNew && state.my.has(caseId)) {
      var role = str(data.entry.role);
      if (role === 'customer' || role === 'system' || role === 'bot') {
        state.my.get(caseId).unread += 1;
        renderMyCases();
      }
    }
  });

  socket.on('customer_typing', function (data) {
    if (!data || data.case_id === undefined) return;
    setCustomerTyping(caseModel(str(data.case_id)), !!data.typing);
  });

  socket.on('case_closed', function (data) {
    if (!data || data.case_id === undefined) return;
    var caseId = str(data.case_id);
    if (state.cases.has(caseId) && caseModel(caseId).closed && !state.my.has(caseId)) return; // we closed it
    markClosed(caseId, 'This conversation is closed. The customer is back with the bot.');
  });

  socket.on('case_assigned', function (data) {
    var raw = data && data.case ? data.case : data;
    var s = summarise(raw);
    if (!s) return;
    adoptCase(s, raw);
    if (s.case_id !== state.openId) {
      if (!claiming.has(s.case_id)) notice('New conversation assigned: ' + customerName(s.customer));
      openCase(s.case_id);
    }
  });

  /** Put a case (from claim or case_assigned) into "my conversations". */
  function adoptCase(s, raw) {
    var old = state.my.get(s.case_id);
    if (old) {
      s.unread = old.unread;
    } else {
      state.myOrder.push(s.case_id);
    }
    state.my.set(s.case_id, s);
    var c = caseModel(s.case_id);
    c.closed = false;
    if (raw && raw.card && typeof raw.card === 'object') applyCaseData(c, raw);
    else if (raw && raw.reason !== undefined && raw.card === undefined && !c.card) c.card = raw;
    // It left the queue.
    state.queue = state.queue.filter(function (q) { return str(q.case_id) !== s.case_id; });
    renderQueue();
    renderMyCases();
  }

  // ---------------------------------------------------------------- presence

  function renderPresence() {
    var status = state.me.status === 'away' ? 'away' : 'available';
    E.presence.value = status;
    E.me.setAttribute('data-status', status);
  }
  E.presence.addEventListener('change', function () {
    var wanted = E.presence.value;
    E.presence.disabled = true;
    call('presence', { status: wanted }).then(function () {
      state.me.status = wanted;
      renderPresence();
    }, function (err) {
      renderPresence(); // revert
      showError(err, 'Could not change your status.');
    }).then(function () { E.presence.disabled = false; });
  });

  // ---------------------------------------------------------------- queue

  function waitSeconds(requestedAt, fallback) {
    var r = Number(requestedAt);
    if (!isFinite(r) || r <= 0) return Number(fallback) || 0;
    return nowSec() + state.skew - r;
  }
  function waitClass(seconds) {
    return seconds >= 600 ? ' fc-wait-long' : seconds >= 300 ? ' fc-wait-mid' : '';
  }

  function renderQueue() {
    clear(E.queue);
    state.queue.forEach(function (item) {
      if (!item || item.case_id === undefined) return;
      var caseId = str(item.case_id);
      var li = el('li', 'fc-queue-item');
      li.setAttribute('data-case-id', caseId);

      var top = el('div', 'fc-q-top');
      var wait = el('span', 'fc-wait');
      wait.setAttribute('data-requested-at', str(item.requested_at));
      wait.setAttribute('title', 'Waiting since ' + fmtClock(item.requested_at));
      var secs = waitSeconds(item.requested_at, item.waited_seconds);
      wait.textContent = fmtDuration(secs);
      wait.className = 'fc-wait' + waitClass(secs);
      append(top, el('span', 'fc-q-customer', customerName(item.customer)), wait);

      var meta = el('div', 'fc-q-meta');
      append(meta,
        el('span', 'fc-chip fc-chip-channel', channelLabel(item.channel)),
        item.language ? el('span', 'fc-chip fc-chip-lang', str(item.language).toUpperCase()) : null,
        el('span', 'fc-chip fc-chip-area', item.area ? humanise(item.area) : 'No area'));

      var reason = el('div', 'fc-q-reason', humanise(item.reason) || 'Asked for a person');
      if (item.intent) reason.setAttribute('title', 'Intent: ' + str(item.intent));

      var claim = el('button', 'fc-claim fc-btn fc-btn-primary fc-btn-small', 'Claim');
      claim.type = 'button';
      claim.setAttribute('data-case-id', caseId);
      claim.setAttribute('aria-label', 'Claim conversation with ' + customerName(item.customer));

      var bottom = el('div', 'fc-q-bottom');
      append(bottom, reason, claim);
      append(li, top, meta, bottom);
      E.queue.appendChild(li);
    });
    var n = E.queue.children.length;
    E.queueCount.textContent = String(n);
    E.queueEmpty.hidden = n > 0;
  }

  var claiming = new Set();
  E.queue.addEventListener('click', function (ev) {
    var btn = ev.target.closest('.fc-claim');
    if (!btn || btn.disabled) return;
    var caseId = btn.getAttribute('data-case-id');
    btn.disabled = true;
    btn.textContent = 'Claiming…';
    claiming.add(caseId);
    call('claim', { case_id: caseId }).then(function (res) {
      claiming.delete(caseId);
      var s = summarise(res.case) || { case_id: caseId, unread: 0 };
      adoptCase(s, res.case);
      if (state.openId !== s.case_id) openCase(s.case_id);
    }, function (err) {
      claiming.delete(caseId);
      btn.disabled = false;
      btn.textContent = 'Claim';
      showError(err, 'Could not claim this conversation.');
    });
  });

  // Tick the "waiting for" counters (queue, and the card while a case is still queued).
  setInterval(function () {
    var nodes = document.querySelectorAll('[data-requested-at]');
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      var secs = waitSeconds(n.getAttribute('data-requested-at'), 0);
      n.textContent = fmtDuration(secs);
      if (n.classList.contains('fc-wait')) n.className = 'fc-wait' + waitClass(secs);
    }
  }, 1000);

  // ---------------------------------------------------------------- my conversations

  function totalUnread() {
    var n = 0;
    state.my.forEach(function (s) { n += s.unread || 0; });
    return n;
  }

  function renderMyCases() {
    clear(E.my);
    state.myOrder.forEach(function (caseId) {
      var s = state.my.get(caseId);
      if (!s) return;
      var li = el('li', 'fc-my-case' + (caseId === state.openId ? ' is-active' : '') + (s.unread ? ' has-unread' : ''));
      li.setAttribute('data-case-id', caseId);
      var btn = el('button', 'fc-my-case-open');
      btn.type = 'button';
      btn.setAttribute('data-case-id', caseId);
      if (caseId === state.openId) btn.setAttribute('aria-current', 'true');

      var top = el('span', 'fc-my-top');
      append(top, el('span', 'fc-my-customer', customerName(s.customer)));
      var c = state.cases.get(caseId);
      if (c && c.typing) append(top, el('span', 'fc-my-typing', 'typing…'));
      if (s.unread) append(top, el('span', 'fc-unread', String(s.unread)));
      var meta = el('span', 'fc-my-meta',
        [channelLabel(s.channel), s.area ? humanise(s.area) : '', s.state ? humanise(s.state) : ''].filter(Boolean).join(' · '));
      append(btn, top, meta);
      li.appendChild(btn);
      E.my.appendChild(li);
    });
    var n = E.my.children.length;
    var cap = state.me.capacity;
    E.myCount.textContent = cap ? n + ' / ' + cap : String(n);
    E.myCount.classList.toggle('is-full', cap > 0 && n >= cap);
    E.myEmpty.hidden = n > 0;
    var unread = totalUnread();
    document.title = (unread ? '(' + unread + ') ' : '') + baseTitle;
  }

  E.my.addEventListener('click', function (ev) {
    var btn = ev.target.closest('.fc-my-case-open');
    if (!btn) return;
    var caseId = btn.getAttribute('data-case-id');
    if (caseId === state.openId) { refreshCase(caseId); return; }
    openCase(caseId);
  });

  // ---------------------------------------------------------------- opening a case

  var openRequest = 0;

  function openCase(caseId) {
    caseId = str(caseId);
    if (state.openId && state.openId !== caseId) {
      var prev = caseModel(state.openId);
      prev.draft = E.reply.value;
      prev.noteDraft = E.noteText.value;
    }
    stopTyping();
    resetCloseConfirm();
    state.openId = caseId;
    var c = caseModel(caseId);
    var s = state.my.get(caseId);
    if (s) s.unread = 0;
    E.reply.value = c.draft;
    E.noteText.value = c.noteDraft;
    renderOpenCase();
    renderMyCases();
    refreshCase(caseId);
    if (!c.closed) E.reply.focus();
  }

  function refreshCase(caseId) {
    var token = ++openRequest;
    var c = caseModel(caseId);
    return call('open_case', { case_id: caseId }).then(function (res) {
      applyCaseData(c, res.case || {});
      if (state.openId === caseId && token === openRequest) renderOpenCase();
    }, function (err) {
      if (state.openId === caseId) {
        if (!c.loaded) renderCard(c);
        showError(err, 'Could not open this conversation.');
      }
    });
  }

  function applyCaseData(c, data) {
    if (data.card && typeof data.card === 'object') c.card = data.card;
    if (Array.isArray(data.transcript)) data.transcript.forEach(function (e) { addEntry(c, e, false); });
    if (Array.isArray(data.notes)) c.notes = data.notes.slice();
    if (Array.isArray(data.earlier)) c.earlier = data.earlier.slice();
    if (!c.tagsDirty) {
      if (Array.isArray(data.tags)) c.tags = data.tags.map(str);
      else if (c.card && Array.isArray(c.card.tags)) c.tags = c.card.tags.map(str);
    }
    c.loaded = true;
    var s = state.my.get(c.id);
    if (s && c.card) {
      if (c.card.state) s.state = c.card.state;
      if (c.card.area) s.area = c.card.area;
      if (c.card.channel) s.channel = c.card.channel;
      if (c.card.customer) s.customer = c.card.customer;
    }
  }

  function renderOpenCase() {
    var caseId = state.openId;
    var has = caseId !== null;
    E.caseEmpty.hidden = has;
    E.caseMain.hidden = !has;
    E.caseSide.hidden = !has;
    if (!has) {
      E.caseRoot.removeAttribute('data-case-id');
      return;
    }
    E.caseRoot.setAttribute('data-case-id', caseId);
    var c = caseModel(caseId);
    renderCaseHead();
    renderCard(c);
    syncTranscript(c);
    renderTyping(c);
    renderNotes(c);
    renderTags(c);
    renderEarlier(c);
    renderClosedState(c);
  }

  function closeView(message) {
    stopTyping();
    state.openId = null;
    E.reply.value = '';
    E.noteText.value = '';
    renderOpenCase();
    renderMyCases();
    if (message) notice(message);
  }

  function renderCaseHead() {
    var caseId = state.openId;
    if (!caseId) return;
    var c = caseModel(caseId);
    var s = state.my.get(caseId) || {};
    var card = c.card || {};
    E.caseCustomer.textContent = customerName(card.customer || s.customer);
    E.caseChannel.textContent = channelLabel(card.channel || s.channel);
    var st = c.closed ? 'closed' : (card.state || s.state || '');
    E.caseState.textContent = humanise(st);
    E.caseState.hidden = !st;
    E.caseState.setAttribute('data-state', str(st));
  }

  function renderClosedState(c) {
    var closed = !!c.closed;
    E.closedBanner.hidden = !closed;
    if (closed) E.closedBanner.textContent = c.closedText || 'This conversation is closed.';
    E.caseRoot.classList.toggle('is-closed', closed);
    [E.reply, E.send, E.canned, E.transfer, E.transferSend, E.close].forEach(function (n) { n.disabled = closed; });
    if (closed) resetCloseConfirm();
    renderCaseHead();
  }

  function markClosed(caseId, text) {
    var c = caseModel(caseId);
    c.closed = true;
    c.closedText = text;
    setCustomerTyping(c, false);
    if (state.my.has(caseId)) {
      state.my.delete(caseId);
      state.myOrder = state.myOrder.filter(function (id) { return id !== caseId; });
      state.serverListed.delete(caseId);
    }
    if (state.openId === caseId) {
      stopTyping();
      renderClosedState(c);
    }
    renderMyCases();
  }

  // ---------------------------------------------------------------- case card

  function field(dl, label, value, extraClass) {
    if (value === null || value === undefined || value === '') return null;
    var wrap = el('div', 'fc-field-row' + (extraClass ? ' ' + extraClass : ''));
    var dd = el('dd', 'fc-field-value');
    if (typeof value === 'string' || typeof value === 'number') dd.textContent = String(value);
    else dd.appendChild(value);
    append(wrap, el('dt', 'fc-field-label', label), dd);
    dl.appendChild(wrap);
    return wrap;
  }

  function renderCard(c) {
    var card = c.card;
    clear(E.card);
    if (!card) {
      E.card.appendChild(el('p', 'fc-card-loading', c.loaded ? 'No case details.' : 'Loading case…'));
      return;
    }
    E.card.setAttribute('data-case-id', str(card.case_id || c.id));

    // Why a person was asked for.
    var reasonBox = el('div', 'fc-card-reason');
    append(reasonBox,
      el('span', 'fc-card-kicker', 'Handoff reason'),
      el('strong', 'fc-card-reason-text', humanise(card.reason) || 'Asked for a person'));
    if (card.reason_detail) append(reasonBox, el('span', 'fc-card-reason-detail', str(card.reason_detail)));
    E.card.appendChild(reasonBox);
    if (card.summary) E.card.appendChild(el('p', 'fc-card-summary', str(card.summary)));

    var dl = el('dl', 'fc-card-grid');

    // Area, intent and confidence.
    var ai = el('span', 'fc-card-intent');
    append(ai, el('span', 'fc-card-area', card.area ? humanise(card.area) : 'No area'));
    if (card.intent) append(ai, ' · ', el('code', 'fc-card-intent-name', str(card.intent)));
    var conf = card.confidence;
    if (conf !== null && conf !== undefined && isFinite(Number(conf))) {
      var pct = Math.round(Number(conf) * 100);
      var badge = el('span', 'fc-confidence' + (pct < 50 ? ' is-low' : pct < 80 ? ' is-mid' : ''), pct + '%');
      badge.setAttribute('title', 'Bot confidence in this intent');
      append(ai, ' ', badge);
    } else {
      append(ai, ' ', el('span', 'fc-confidence is-none', 'confidence n/a'));
    }
    field(dl, 'Area / intent', ai, 'fc-field-wide');

    // What the bot captured.
    var captured = card.captured && typeof card.captured === 'object' ? card.captured : {};
    var known = [['order_number', 'Order number'], ['email', 'E-mail'], ['product', 'Product']];
    known.forEach(function (k) {
      var v = captured[k[0]];
      field(dl, k[1], v === undefined || v === null || v === '' ? '—' : str(v),
        'fc-captured fc-captured-' + k[0].replace(/_/g, '-') + (v ? '' : ' is-missing'));
    });
    Object.keys(captured).forEach(function (key) {
      if (key === 'order_number' || key === 'email' || key === 'product') return;
      var v = captured[key];
      if (v === null || v === undefined || v === '') return;
      field(dl, humanise(key), Array.isArray(v) ? v.map(str).join(', ') : (typeof v === 'object' ? JSON.stringify(v) : str(v)), 'fc-captured');
    });

    // Customer and where they are.
    var cust = card.customer && typeof card.customer === 'object' ? card.customer : {};
    var custParts = [cust.name, cust.email, cust.id ? 'ID ' + str(cust.id) : ''].filter(Boolean).map(str);
    field(dl, 'Customer', custParts.length ? custParts.join(' · ') : 'Anonymous visitor', 'fc-card-customer');
    field(dl, 'Language', card.language ? str(card.language).toUpperCase() : '—');
    var chan = channelLabel(card.channel) + (card.channel_user ? ' · ' + str(card.channel_user) : '');
    field(dl, 'Channel', chan, 'fc-card-channel');

    // Wait: fixed once an agent joined, ticking while still queued.
    var waitNode;
    if (card.joined_at || card.waited_seconds !== undefined && card.waited_seconds !== null && card.state !== 'queued') {
      var w = card.waited_seconds !== undefined && card.waited_seconds !== null
        ? Number(card.waited_seconds)
        : Number(card.joined_at) - Number(card.requested_at);
      waitNode = el('span', 'fc-card-wait', fmtDuration(w));
    } else {
      waitNode = el('span', 'fc-card-wait', fmtDuration(waitSeconds(card.requested_at, card.waited_seconds)));
      if (card.requested_at) waitNode.setAttribute('data-requested-at', str(card.requested_at));
    }
    var waitWrap = el('span');
    append(waitWrap, waitNode);
    if (card.requested_at) append(waitWrap, el('span', 'fc-muted', ' (asked ' + fmtClock(card.requested_at) + (card.joined_at ? ', joined ' + fmtClock(card.joined_at) : '') + ')'));
    field(dl, 'Waited', waitWrap);

    if (card.page_url) {
      var url = str(card.page_url);
      var node;
      if (/^https?:\/\//i.test(url)) {
        node = el('a', 'fc-card-url', url);
        node.href = url;
        node.target = '_blank';
        node.rel = 'noopener noreferrer nofollow';
      } else {
        node = el('span', 'fc-card-url', url);
      }
      node.title = url;
      field(dl, 'Page', node, 'fc-field-wide');
    }
    if (card.agent && str(card.agent) !== state.me.name) field(dl, 'Agent', str(card.agent));
    E.card.appendChild(dl);

    // The answers the bot already gave (collapsible).
    var answers = Array.isArray(card.bot_answers) ? card.bot_answers : [];
    var det = el('details', 'fc-bot-answers');
    append(det, el('summary', 'fc-bot-answers-summary',
      answers.length ? 'The bot already answered (' + answers.length + ')' : 'The bot gave no answers yet'));
    if (answers.length) {
      var ol = el('ol', 'fc-bot-answers-list');
      answers.forEach(function (a) { ol.appendChild(el('li', 'fc-bot-answer', str(a))); });
      det.appendChild(ol);
    }
    E.card.appendChild(det);
  }

  // ---------------------------------------------------------------- transcript

  var localSeq = 0;

  /** Add an entry to the model, deduplicated by seq. Returns true when it was new. */
  function addEntry(c, entry, local) {
    if (!entry || typeof entry !== 'object') return false;
    var hasSeq = entry.seq !== undefined && entry.seq !== null && isFinite(Number(entry.seq));
    var key = hasSeq ? 's' + Number(entry.seq) : 'x' + (++localSeq);
    var existing = c.entries.get(key);
    var e = {
      key: key,
      seq: hasSeq ? Number(entry.seq) : null,
      ts: entry.ts,
      role: ROLES.indexOf(str(entry.role)) >= 0 ? str(entry.role) : 'system',
      text: str(entry.text),
      sender_name: entry.sender_name ? str(entry.sender_name) : '',
      quick_replies: Array.isArray(entry.quick_replies) ? entry.quick_replies : [],
      local: !!local
    };
    if (existing) {
      // A server copy replaces our own optimistic copy; otherwise the first copy wins.
      if (existing.local && !local) { e.replaces = true; c.entries.set(key, e); }
      return false;
    }
    c.entries.set(key, e);
    return true;
  }

  function sortedEntries(c) {
    var list = Array.from(c.entries.values());
    list.sort(function (a, b) {
      if (a.seq !== null && b.seq !== null) return a.seq - b.seq;
      if (a.seq === null && b.seq === null) return 0;
      return a.seq === null ? 1 : -1;
    });
    return list;
  }

  function roleLabel(e) {
    if (e.role === 'customer') return 'Customer';
    if (e.role === 'bot') return 'Bot';
    if (e.role === 'agent') return e.sender_name || 'Agent';
    return 'System';
  }

  function entryNode(e) {
    var li = el('li', 'fc-entry fc-role-' + e.role);
    li.setAttribute('data-key', e.key);
    if (e.seq !== null) li.setAttribute('data-seq', String(e.seq));
    if (e.role === 'system') {
      append(li, el('span', 'fc-entry-text', e.text));
      var t = fmtClock(e.ts);
      if (t) append(li, el('span', 'fc-entry-time', ' · ' + t));
      return li;
    }
    var meta = el('div', 'fc-entry-meta');
    append(meta, el('span', 'fc-entry-who', roleLabel(e)), el('span', 'fc-entry-time', fmtClock(e.ts)));
    var bubble = el('div', 'fc-entry-bubble');
    append(bubble, el('div', 'fc-entry-text', e.text));
    if (e.quick_replies.length) {
      var qr = el('div', 'fc-entry-qr');
      qr.setAttribute('aria-label', 'Buttons offered');
      e.quick_replies.forEach(function (q) {
        var label = q && typeof q === 'object' ? (q.title || q.payload) : q;
        qr.appendChild(el('span', 'fc-qr', str(label)));
      });
      bubble.appendChild(qr);
    }
    append(li, meta, bubble);
    return li;
  }

  // Keep the transcript pinned to the newest message while the agent is at the bottom, also when
  // the card above it grows or the window resizes; leave it alone when they scrolled up to read.
  var stickToBottom = true;
  E.transcript.addEventListener('scroll', function () {
    var t = E.transcript;
    stickToBottom = t.scrollHeight - t.scrollTop - t.clientHeight < 60;
  });
  if (typeof window.ResizeObserver === 'function') {
    new window.ResizeObserver(function () {
      if (stickToBottom) E.transcript.scrollTop = E.transcript.scrollHeight;
    }).observe(E.transcript);
  }

  /** Bring the transcript DOM in line with the model: insert missing entries in seq order. */
  function syncTranscript(c) {
    var list = E.transcript;
    var fresh = list.getAttribute('data-case-id') !== c.id;
    if (fresh) {
      clear(list);
      list.setAttribute('data-case-id', c.id);
    }
    if (fresh) stickToBottom = true;
    var nearBottom = stickToBottom;
    var nodes = new Map();
    Array.prototype.forEach.call(list.children, function (n) { nodes.set(n.getAttribute('data-key'), n); });
    var prev = null;
    sortedEntries(c).forEach(function (e) {
      var node = nodes.get(e.key);
      if (node && e.replaces) {
        var repl = entryNode(e);
        list.replaceChild(repl, node);
        node = repl;
        e.replaces = false;
      }
      if (!node) {
        node = entryNode(e);
        var ref = prev ? prev.nextSibling : list.firstChild;
        list.insertBefore(node, ref);
      }
      prev = node;
    });
    if (!list.children.length) {
      list.appendChild(el('li', 'fc-entry fc-entry-empty', c.loaded ? 'No messages yet.' : 'Loading transcript…'));
      list.lastChild.setAttribute('data-key', 'empty');
    } else if (list.children.length > 1) {
      var empty = list.querySelector('.fc-entry-empty');
      if (empty) list.removeChild(empty);
    }
    if (nearBottom) {
      list.scrollTop = list.scrollHeight;
      stickToBottom = true;
    }
  }

  // ---------------------------------------------------------------- typing

  function setCustomerTyping(c, typing) {
    clearTimeout(c.typingTimer);
    var changed = c.typing !== typing;
    c.typing = typing;
    if (typing) {
      c.typingTimer = setTimeout(function () { setCustomerTyping(c, false); }, CUSTOMER_TYPING_STALE_MS);
    }
    if (c.id === state.openId) renderTyping(c);
    if (changed && state.my.has(c.id)) renderMyCases();
  }
  function renderTyping(c) {
    E.typing.hidden = !(c.typing && !c.closed);
  }

  var typingCase = null;
  var typingSentAt = 0;
  var typingIdle = null;
  function emitTyping(caseId, typing) {
    if (socket.connected) socket.emit('typing', { case_id: caseId, typing: typing });
  }
  function stopTyping() {
    clearTimeout(typingIdle);
    if (typingCase !== null) emitTyping(typingCase, false);
    typingCase = null;
    typingSentAt = 0;
  }
  function agentTyped() {
    var caseId = state.openId;
    if (!caseId || caseModel(caseId).closed) return;
    if (!E.reply.value.trim()) { stopTyping(); return; }
    var now = Date.now();
    if (typingCase !== caseId) {
      stopTyping();
      typingCase = caseId;
      typingSentAt = 0;
    }
    if (now - typingSentAt >= TYPING_THROTTLE_MS) {
      emitTyping(caseId, true);
      typingSentAt = now;
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  // ---------------------------------------------------------------- composer

  var sending = false;
  function sendReply() {
    var caseId = state.openId;
    if (!caseId || sending) return;
    var c = caseModel(caseId);
    if (c.closed) return;
    var text = E.reply.value.trim();
    if (!text) { E.reply.focus(); return; }
    // Re-sending the same text after a failure reuses its id, so the server can drop a duplicate.
    if (!c.pendingMsg || c.pendingMsg.text !== text) c.pendingMsg = { text: text, id: newId() };
    var msg = c.pendingMsg;
    sending = true;
    E.send.disabled = true;
    E.send.textContent = 'Sending…';
    stopTyping();
    call('reply', { case_id: caseId, text: text, client_msg_id: msg.id }).then(function (res) {
      if (c.pendingMsg === msg) c.pendingMsg = null;
      if (state.openId === caseId && E.reply.value.trim() === text) E.reply.value = '';
      else if (c.draft.trim() === text) c.draft = '';
      if (res.seq !== undefined && res.seq !== null) {
        addEntry(c, { seq: res.seq, ts: nowSec(), role: 'agent', text: text, sender_name: state.me.display_name }, true);
        if (state.openId === caseId) syncTranscript(c);
      }
    }, function (err) {
      showError(err, 'Message not sent.');
    }).then(function () {
      sending = false;
      E.send.textContent = 'Send';
      E.send.disabled = !!(state.openId && caseModel(state.openId).closed);
    });
  }

  E.composer.addEventListener('submit', function (ev) {
    ev.preventDefault();
    sendReply();
  });
  E.reply.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      sendReply();
    }
  });
  E.reply.addEventListener('input', agentTyped);
  E.reply.addEventListener('blur', function () {
    if (!E.reply.value.trim()) stopTyping();
  });

  function renderCanned() {
    var keep = E.canned.options[0];
    clear(E.canned);
    E.canned.appendChild(keep);
    state.canned.forEach(function (item) {
      if (!item || item.key === undefined) return;
      var opt = el('option', null, str(item.title || item.key));
      opt.value = str(item.key);
      E.canned.appendChild(opt);
    });
    E.canned.value = '';
  }

  E.canned.addEventListener('change', function () {
    var key = E.canned.value;
    var caseId = state.openId;
    if (!key || !caseId) return;
    E.canned.disabled = true;
    call('canned', { case_id: caseId, key: key }).then(function (res) {
      if (state.openId !== caseId) return;
      var text = str(res.text);
      var current = E.reply.value;
      E.reply.value = current.trim() ? current.replace(/\s+$/, '') + '\n\n' + text : text;
      E.reply.focus();
      E.reply.setSelectionRange(E.reply.value.length, E.reply.value.length);
      agentTyped();
    }, function (err) {
      showError(err, 'Could not load the canned reply.');
    }).then(function () {
      E.canned.value = '';
      E.canned.disabled = !!(state.openId && caseModel(state.openId).closed);
    });
  });

  // ---------------------------------------------------------------- notes

  function renderNotes(c) {
    clear(E.notes);
    c.notes.forEach(function (n) { E.notes.appendChild(noteNode(n)); });
    if (!c.notes.length) E.notes.appendChild(el('li', 'fc-note-empty', 'No notes yet.'));
    E.notes.scrollTop = E.notes.scrollHeight;
  }
  function noteNode(n) {
    n = n || {};
    var li = el('li', 'fc-note');
    var meta = el('div', 'fc-note-meta');
    append(meta, el('span', 'fc-note-agent', str(n.agent_display_name || n.agent) || 'Agent'), el('span', 'fc-note-time', fmtClock(n.ts)));
    append(li, meta, el('div', 'fc-note-text-body', str(n.text)));
    return li;
  }
  function sendNote() {
    var caseId = state.openId;
    if (!caseId) return;
    var text = E.noteText.value.trim();
    if (!text) { E.noteText.focus(); return; }
    var c = caseModel(caseId);
    E.noteSend.disabled = true;
    call('note', { case_id: caseId, text: text }).then(function (res) {
      var note = res.note && typeof res.note === 'object' ? res.note : { ts: nowSec(), agent: state.me.display_name, text: text };
      c.notes.push(note);
      if (state.openId === caseId) {
        if (E.noteText.value.trim() === text) E.noteText.value = '';
        renderNotes(c);
      } else if (c.noteDraft.trim() === text) {
        c.noteDraft = '';
      }
    }, function (err) {
      showError(err, 'Note not saved.');
    }).then(function () { E.noteSend.disabled = false; });
  }
  E.noteSend.addEventListener('click', sendNote);
  E.noteText.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); sendNote(); }
  });

  // ---------------------------------------------------------------- tags

  function renderTags(c) {
    var legend = E.tags.querySelector('legend');
    clear(E.tags);
    if (legend) E.tags.appendChild(legend);
    var chosen = c.tags || [];
    var all = state.tags.slice();
    chosen.forEach(function (t) { if (all.indexOf(t) < 0) all.push(t); });
    all.forEach(function (tag) {
      var label = el('label', 'fc-tag');
      var box = document.createElement('input');
      box.type = 'checkbox';
      box.name = 'tag';
      box.value = tag;
      box.checked = chosen.indexOf(tag) >= 0;
      append(label, box, el('span', 'fc-tag-label', tag));
      E.tags.appendChild(label);
    });
    if (!all.length) E.tags.appendChild(el('p', 'fc-empty', 'No tags configured.'));
    E.tagsStatus.textContent = c.tagsDirty ? 'Unsaved changes' : '';
    E.tagsStatus.className = 'fc-tags-status' + (c.tagsDirty ? ' is-dirty' : '');
  }
  function checkedTags() {
    return Array.prototype.map.call(E.tags.querySelectorAll('input[type=checkbox]:checked'), function (b) { return b.value; });
  }
  E.tags.addEventListener('change', function () {
    if (!state.openId) return;
    var c = caseModel(state.openId);
    c.tags = checkedTags();
    c.tagsDirty = true;
    E.tagsStatus.textContent = 'Unsaved changes';
    E.tagsStatus.className = 'fc-tags-status is-dirty';
  });
  E.tagsSave.addEventListener('click', function () {
    var caseId = state.openId;
    if (!caseId) return;
    var c = caseModel(caseId);
    var tags = checkedTags();
    E.tagsSave.disabled = true;
    call('tags', { case_id: caseId, tags: tags }).then(function () {
      c.tags = tags;
      c.tagsDirty = false;
      if (state.openId === caseId) {
        E.tagsStatus.textContent = 'Saved';
        E.tagsStatus.className = 'fc-tags-status is-saved';
      }
    }, function (err) {
      showError(err, 'Tags not saved.');
    }).then(function () { E.tagsSave.disabled = false; });
  });

  // ---------------------------------------------------------------- earlier conversations

  function renderEarlier(c) {
    clear(E.earlier);
    c.earlier.forEach(function (x) {
      if (!x) return;
      var li = el('li', 'fc-earlier-item');
      if (x.case_id !== undefined) li.setAttribute('data-case-id', str(x.case_id));
      var top = el('div', 'fc-earlier-top');
      append(top, el('span', 'fc-earlier-date', fmtDate(x.requested_at) || 'Unknown date'),
        el('span', 'fc-earlier-area', x.area ? humanise(x.area) : ''));
      if (x.csat !== null && x.csat !== undefined && x.csat !== '') {
        var csat = Number(x.csat);
        var badge = el('span', 'fc-csat' + (csat <= 2 ? ' is-low' : csat >= 4 ? ' is-high' : ''), 'CSAT ' + str(x.csat) + '/5');
        top.appendChild(badge);
      }
      li.appendChild(top);
      if (x.reason) li.appendChild(el('div', 'fc-earlier-reason', humanise(x.reason)));
      if (x.summary) li.appendChild(el('div', 'fc-earlier-summary', str(x.summary)));
      if (Array.isArray(x.tags) && x.tags.length) {
        var tags = el('div', 'fc-earlier-tags');
        x.tags.forEach(function (t) { tags.appendChild(el('span', 'fc-chip', str(t))); });
        li.appendChild(tags);
      }
      E.earlier.appendChild(li);
    });
    E.earlierEmpty.hidden = E.earlier.children.length > 0;
  }

  // ---------------------------------------------------------------- transfer

  function renderAgents() {
    var current = E.transfer.value;
    var keep = E.transfer.options[0];
    clear(E.transfer);
    E.transfer.appendChild(keep);
    var others = state.agents.filter(function (a) { return a && a.name && str(a.name) !== state.me.name; });
    others.sort(function (a, b) {
      var av = a.status === 'available' ? 0 : 1;
      var bv = b.status === 'available' ? 0 : 1;
      return av - bv || str(a.display_name || a.name).localeCompare(str(b.display_name || b.name));
    });
    others.forEach(function (a) {
      var load = a.capacity ? ' · ' + (Number(a.load) || 0) + '/' + a.capacity : '';
      var opt = el('option', null, str(a.display_name || a.name) + ' — ' + (humanise(a.status) || 'Offline') + load);
      opt.value = str(a.name);
      opt.setAttribute('data-status', str(a.status));
      E.transfer.appendChild(opt);
    });
    E.transfer.value = current;
    if (E.transfer.value !== current) E.transfer.value = '';
  }

  E.transferSend.addEventListener('click', function () {
    var caseId = state.openId;
    var to = E.transfer.value;
    if (!caseId) return;
    if (!to) { showError('Choose the agent to transfer this conversation to.'); E.transfer.focus(); return; }
    var label = E.transfer.options[E.transfer.selectedIndex].textContent.split(' — ')[0];
    E.transferSend.disabled = true;
    call('transfer', { case_id: caseId, to: to }).then(function () {
      var c = caseModel(caseId);
      c.closed = true;
      c.closedText = 'Transferred to ' + label + '.';
      state.my.delete(caseId);
      state.myOrder = state.myOrder.filter(function (id) { return id !== caseId; });
      state.serverListed.delete(caseId);
      if (state.openId === caseId) closeView('Conversation transferred to ' + label + '.');
      else renderMyCases();
    }, function (err) {
      showError(err, 'Transfer failed.');
    }).then(function () {
      E.transferSend.disabled = !!(state.openId && caseModel(state.openId).closed);
      E.transfer.value = '';
    });
  });

  // ---------------------------------------------------------------- close (with confirmation)

  function resetCloseConfirm() {
    E.closeBox.hidden = true;
    E.close.hidden = false;
  }
  E.close.addEventListener('click', function () {
    if (!state.openId) return;
    E.close.hidden = true;
    E.closeBox.hidden = false;
    E.closeConfirm.focus();
  });
  E.closeCancel.addEventListener('click', function () {
    resetCloseConfirm();
    E.close.focus();
  });
  E.closeBox.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') { resetCloseConfirm(); E.close.focus(); }
  });
  E.closeConfirm.addEventListener('click', function () {
    var caseId = state.openId;
    if (!caseId) return;
    E.closeConfirm.disabled = true;
    call('close', { case_id: caseId }).then(function () {
      markClosed(caseId, 'You closed this conversation. The customer gets the satisfaction survey and is back with the bot.');
      resetCloseConfirm();
    }, function (err) {
      showError(err, 'Could not close the conversation.');
    }).then(function () { E.closeConfirm.disabled = false; });
  });

  // ---------------------------------------------------------------- start

  renderPresence();
  renderQueue();
  renderMyCases();
  renderOpenCase();
})();
