/*
 * The console's store. Its data is private to this module: other modules read it through the
 * getters and change it only through the functions below (views re-render themselves after).
 *
 * A case model (caseModel()) is a record the getters hand out for reading; its fields, too, are
 * changed only here:
 *   {id, card, loaded, entries: Map(key -> entry), notes, tags, earlier, typing, typingTimer,
 *    draft, noteDraft, closed, closedText, pendingMsg, tagsDirty, rev, online, mail,
 *    customerDraft, viewers, holder}
 * customerDraft: what the customer is typing (customer_typing.draft); viewers: the agents on the
 * case (case_viewers); holder: who has it ({name, display_name}, null: nobody).
 * online: whether the customer has the chat open (null: unknown); mail: the e-mail answer's
 * latest status (a left message, once answered).
 * rev counts case_updated events, so an older open_case answer does not undo a newer update.
 */

import { labelOf, nowSec, str } from './format.js';

const ROLES = ['customer', 'bot', 'agent', 'system'];

const body = document.body;

const store = {
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
  messages: [],          // the offline inbox (left messages, undelivered e-mail answers)
  mailEnabled: true,     // until the server says otherwise
  skew: 0,               // server clock minus client clock, in seconds
  myOrder: [],           // case ids in the order the server listed them
  my: new Map(),         // case_id -> {case_id, customer, channel, area, state, unread}
  serverListed: new Set(),
  cases: new Map(),      // case_id -> case model
  openId: null,
  connectedOnce: false,
  claiming: new Set()    // case ids with a claim in flight
};

let localSeq = 0;

function isObject(v) {
  return v !== null && typeof v === 'object';
}

// ---------------------------------------------------------------- reading

/** The agent logged in: {name, display_name, capacity, status} (a copy). */
export function me() { return Object.freeze({ ...store.me }); }
export function cannedReplies() { return store.canned; }
export function tagChoices() { return store.tags; }
export function agents() { return store.agents; }
export function queueItems() { return store.queue; }
export function messageItems() { return store.messages; }
/** Whether left messages can be answered by e-mail here (SMTP is set up on the server). */
export function mailEnabled() { return store.mailEnabled; }
/** True when the case is a left message, answered by e-mail (not a chat). */
export function isMessageCase(c) {
  return !!(c && c.card && c.card.kind === 'message');
}
/** True when the left message is answered in the customer's chat (WhatsApp), not by e-mail. */
export function answeredInChat(c) {
  return isMessageCase(c) && !!(c.card.left_message && c.card.left_message.answer_via);
}
/** Server clock minus this computer's clock, in seconds. */
export function clockSkew() { return store.skew; }
export function openId() { return store.openId; }
export function myCaseIds() { return store.myOrder.slice(); }
/** The my-conversations row of a case ({case_id, customer, channel, area, state, kind, unread}). */
export function myCase(caseId) { return store.my.get(caseId); }
export function hasMyCase(caseId) { return store.my.has(caseId); }
/** How many live chats the agent holds: what counts against their capacity (a left message
 * taken to answer by e-mail holds no slot). */
export function liveCaseCount() {
  let n = 0;
  store.my.forEach((s) => { if (s.kind !== 'message') n += 1; });
  return n;
}
export function totalUnread() {
  let n = 0;
  store.my.forEach((s) => { n += s.unread || 0; });
  return n;
}
export function isClaiming(caseId) { return store.claiming.has(caseId); }
/** The model of a case, or null when the console knows nothing of it. */
export function findCase(caseId) { return store.cases.get(caseId) || null; }
/** The open case's model, or null. */
export function openCaseModel() { return store.openId === null ? null : caseModel(store.openId); }
/** True when a case is open and closed (its controls are disabled). */
export function openCaseClosed() { return !!(store.openId && caseModel(store.openId).closed); }

/** The model of a case, created empty when new. */
export function caseModel(caseId) {
  let c = store.cases.get(caseId);
  if (!c) {
    c = {
      id: caseId, card: null, loaded: false, entries: new Map(), notes: [], tags: null,
      earlier: [], typing: false, typingTimer: null, draft: '', noteDraft: '', closed: false,
      closedText: '', pendingMsg: null, tagsDirty: false, rev: 0, online: null, mail: null,
      customerDraft: '', viewers: [], holder: null
    };
    store.cases.set(caseId, c);
  }
  return c;
}

/** The entries of a case in transcript order (by seq; entries without one last). */
export function sortedEntries(c) {
  const list = Array.from(c.entries.values());
  list.sort((a, b) => {
    if (a.seq !== null && b.seq !== null) return a.seq - b.seq;
    if (a.seq === null && b.seq === null) return 0;
    return a.seq === null ? 1 : -1;
  });
  return list;
}

/**
 * Reduce whatever case-shaped object the server sent (a my_cases item, or a case view with its
 * card) to a my-conversations row; null when it names no case. `customer` is the server's label.
 */
export function caseSummary(obj) {
  if (!isObject(obj)) return null;
  const src = isObject(obj.card) ? obj.card : obj;
  const id = src.case_id !== undefined ? src.case_id : obj.case_id;
  if (id === undefined || id === null) return null;
  return {
    case_id: str(id),
    customer: labelOf(obj.customer, src.customer, src.customer_label, obj.customer_label),
    channel: src.channel !== undefined ? src.channel : obj.channel,
    area: src.area !== undefined ? src.area : obj.area,
    state: src.state !== undefined ? src.state : obj.state,
    kind: str(src.kind !== undefined ? src.kind : obj.kind) || 'live',
    unread: Number(obj.unread) || 0
  };
}

// ---------------------------------------------------------------- the agent and the team

/** Take in a hello payload (the agent, canned replies, tags, agents). */
export function applyHello(data) {
  if (isObject(data.agent)) {
    const a = data.agent;
    if (a.name) store.me.name = str(a.name);
    if (a.display_name) store.me.display_name = str(a.display_name);
    if (a.capacity !== undefined) store.me.capacity = Number(a.capacity) || 0;
    if (a.status) store.me.status = str(a.status);
  }
  if (typeof data.mail_enabled === 'boolean') store.mailEnabled = data.mail_enabled;
  store.canned = Array.isArray(data.canned) ? data.canned : [];
  store.tags = Array.isArray(data.tags) ? data.tags.map(str) : [];
  if (Array.isArray(data.agents)) store.agents = data.agents;
}

export function setMyStatus(status) { store.me.status = str(status); }

export function setAgents(items) { store.agents = Array.isArray(items) ? items : []; }

/** True when this is a reconnection (the socket was connected before). */
export function markConnected() {
  const before = store.connectedOnce;
  store.connectedOnce = true;
  return before;
}

// ---------------------------------------------------------------- queue

/** Replace the queue; estimates the clock skew from it. */
export function setQueue(items) {
  // requested_at + waited_seconds is the server's "now": so "waiting for" counters are right
  // even when this computer's clock is off.
  for (const it of items) {
    if (it && isFinite(Number(it.requested_at)) && isFinite(Number(it.waited_seconds)) && it.waited_seconds !== null) {
      store.skew = Number(it.requested_at) + Number(it.waited_seconds) - nowSec();
      break;
    }
  }
  // Left messages are the offline inbox, never a place in the live queue.
  store.queue = items.filter((it) => !(it && typeof it === 'object' && it.kind === 'message'));
}

/** Replace the offline inbox. */
export function setMessages(items, enabled) {
  store.messages = items.filter((it) => it && typeof it === 'object' && it.case_id !== undefined);
  if (typeof enabled === 'boolean') store.mailEnabled = enabled;
}

export function dropFromMessages(caseId) {
  store.messages = store.messages.filter((m) => str(m.case_id) !== caseId || m.mail);
}

/** A mail_status event: the e-mail answer of a case moved on. */
export function setCaseMail(caseId, status) {
  const c = store.cases.get(caseId);
  if (!c) return null;
  c.mail = Object.assign({}, c.mail || (c.card && c.card.mail) || {}, status);
  return c;
}

/** Whether the customer of a case has the chat open (null: unknown). */
export function setOnline(caseId, online) {
  const c = store.cases.get(caseId);
  if (c) c.online = online;
  return c;
}

export function dropFromQueue(caseId) {
  store.queue = store.queue.filter((q) => !q || str(q.case_id) !== caseId);
}

export function claimStarted(caseId) { store.claiming.add(caseId); }
export function claimEnded(caseId) { store.claiming.delete(caseId); }

// ---------------------------------------------------------------- my conversations

/**
 * Replace "my conversations" with the server's list (unread counts carry over). Returns the id
 * of the open case when it was listed before and is not any more (transferred or closed
 * elsewhere) and is not known to be closed yet; otherwise null.
 */
export function replaceMyCases(items) {
  const previous = store.my;
  const next = new Map();
  const order = [];
  const listed = new Set();
  items.forEach((raw) => {
    const s = caseSummary(raw);
    if (!s) return;
    const old = previous.get(s.case_id);
    if (raw.unread === undefined && old) s.unread = old.unread;
    if (s.case_id === store.openId) s.unread = 0;
    next.set(s.case_id, s);
    order.push(s.case_id);
    listed.add(s.case_id);
    caseModel(s.case_id).closed = false;
  });
  const open = store.openId;
  const lost = open && store.serverListed.has(open) && !listed.has(open) && !caseModel(open).closed ? open : null;
  store.my = next;
  store.myOrder = order;
  store.serverListed = listed;
  return lost;
}

/** Put a case (from claim or case_assigned) into "my conversations"; it left the queue. */
export function adoptCase(s, raw) {
  const old = store.my.get(s.case_id);
  if (old) {
    s.unread = old.unread;
  } else {
    store.myOrder.push(s.case_id);
  }
  store.my.set(s.case_id, s);
  const c = caseModel(s.case_id);
  c.closed = false;
  if (raw && isObject(raw.card)) applyCaseData(c, raw);
  else if (raw && raw.reason !== undefined && raw.card === undefined && !c.card) c.card = raw;
  dropFromQueue(s.case_id);
  dropFromMessages(s.case_id);
}

export function markRead(caseId) {
  const s = store.my.get(caseId);
  if (s) s.unread = 0;
}

export function addUnread(caseId) {
  const s = store.my.get(caseId);
  if (s) s.unread += 1;
}

// ---------------------------------------------------------------- the open case

export function setOpen(caseId) { store.openId = caseId === null ? null : str(caseId); }

/** Remember what the agent had typed in a case they leave. */
export function keepDrafts(c, reply, note) {
  c.draft = reply;
  c.noteDraft = note;
}
export function setDraft(c, text) { c.draft = text; }
export function setNoteDraft(c, text) { c.noteDraft = text; }

// ---------------------------------------------------------------- case data

/** Merge a case view ({card, transcript, notes, earlier, tags}) into a case model. */
export function applyCaseData(c, data) {
  if (!isObject(data)) data = {};
  if (isObject(data.card)) c.card = data.card;
  if (data.customer_online === true || data.customer_online === false || data.customer_online === null) {
    c.online = data.customer_online;
  }
  if (isObject(data.card) && isObject(data.card.mail)) c.mail = data.card.mail;
  if (data.holder === null || isObject(data.holder)) c.holder = data.holder;
  applyTranscript(c, data);
  if (Array.isArray(data.notes)) c.notes = data.notes.slice();
  if (Array.isArray(data.earlier)) c.earlier = data.earlier.slice();
  if (!c.tagsDirty) {
    if (Array.isArray(data.tags)) c.tags = data.tags.map(str);
    else if (c.card && Array.isArray(c.card.tags)) c.tags = c.card.tags.map(str);
  }
  c.loaded = true;
  const s = store.my.get(c.id);
  if (s && isObject(c.card)) {
    if (c.card.state) s.state = c.card.state;
    if (c.card.area) s.area = c.card.area;
    if (c.card.channel) s.channel = c.card.channel;
    const label = labelOf(c.card.customer_label);
    if (label) s.customer = label;
  }
}

/** Merge only the transcript entries of a case view (they are deduplicated by seq). */
export function applyTranscript(c, data) {
  if (isObject(data) && Array.isArray(data.transcript)) {
    data.transcript.forEach((e) => { addEntry(c, e, false); });
  }
}

/** A case_updated view: newer than any open_case answer still on its way. */
export function applyCaseUpdate(c, view) {
  c.rev += 1;
  applyCaseData(c, view);
}

/**
 * Add an entry to a case, deduplicated by seq (a server copy replaces our own optimistic copy;
 * otherwise the first copy wins). Returns true when it was new.
 */
export function addEntry(c, entry, local) {
  if (!isObject(entry)) return false;
  const hasSeq = entry.seq !== undefined && entry.seq !== null && isFinite(Number(entry.seq));
  const key = hasSeq ? 's' + Number(entry.seq) : 'x' + (++localSeq);
  const existing = c.entries.get(key);
  const e = {
    key: key,
    seq: hasSeq ? Number(entry.seq) : null,
    ts: entry.ts,
    role: ROLES.indexOf(str(entry.role)) >= 0 ? str(entry.role) : 'system',
    text: str(entry.text),
    sender_name: entry.sender_name ? str(entry.sender_name) : '',
    quick_replies: Array.isArray(entry.quick_replies) ? entry.quick_replies : [],
    attachment: isObject(entry.attachment) ? entry.attachment : null,
    local: !!local
  };
  if (existing) {
    if (existing.local && !local) { e.replaces = true; c.entries.set(key, e); }
    return false;
  }
  c.entries.set(key, e);
  return true;
}

/** The transcript shows this entry now (a replacing copy has replaced its node). */
export function entryShown(e) { e.replaces = false; }

/**
 * Set whether the customer is typing; while typing, onStale runs after staleMs unless told
 * again. Returns true when it changed.
 */
export function setCustomerTyping(c, typing, onStale, staleMs, draft) {
  clearTimeout(c.typingTimer);
  const changed = c.typing !== typing;
  c.typing = typing;
  // What the customer has typed so far (never kept beyond the open page; gone when they stop).
  if (!typing) c.customerDraft = '';
  else if (typeof draft === 'string') c.customerDraft = draft;
  c.typingTimer = typing ? setTimeout(onStale, staleMs) : null;
  return changed;
}

/** The case ended for this agent (closed, transferred): it leaves "my conversations". */
export function closeCase(caseId, text) {
  const c = caseModel(caseId);
  c.closed = true;
  c.closedText = text;
  if (store.my.has(caseId)) {
    store.my.delete(caseId);
    store.myOrder = store.myOrder.filter((id) => id !== caseId);
    store.serverListed.delete(caseId);
  }
  return c;
}

/** The reply being sent for `text`: re-sending the same text after a failure reuses its id. */
export function pendingMessage(c, text, newId) {
  if (!c.pendingMsg || c.pendingMsg.text !== text) c.pendingMsg = { text: text, id: newId() };
  return c.pendingMsg;
}
export function messageSent(c, msg) {
  if (c.pendingMsg === msg) c.pendingMsg = null;
}

export function addNote(c, note) { c.notes.push(note); }

/** The case's chosen tags; dirty while not saved. */
export function setCaseTags(c, tags, dirty) {
  c.tags = tags;
  c.tagsDirty = dirty;
}

/** The agents on a case (case_viewers); returns the model, or null when unknown here. */
export function setViewers(caseId, viewers) {
  const c = store.cases.get(caseId);
  if (c) c.viewers = viewers.filter((v) => isObject(v) && v.name !== undefined);
  return c;
}

/** Who has a case now (case_holder, take_over); returns the model, or null. */
export function setHolder(caseId, holder) {
  const c = store.cases.get(caseId);
  if (c) c.holder = isObject(holder) ? holder : null;
  return c;
}

/** True when another agent has the case: we read it, and act only after a take-over. */
export function heldByOther(c) {
  return !!(c && isObject(c.holder) && c.holder.name && str(c.holder.name) !== store.me.name);
}
