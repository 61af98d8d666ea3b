/* The reply composer: sending replies, the agent's typing signal, and canned replies. */

import { E, clear, el } from './dom.js';
import { ACTIONS } from './events.js';
import { newId, nowSec, str } from './format.js';
import { showError } from './notify.js';
import { call, sendTyping } from './socket.js';
import * as store from './state.js';
import { syncTranscript } from './transcript.js';

const TYPING_THROTTLE_MS = 2000;
const TYPING_IDLE_MS = 3000;

// ---------------------------------------------------------------- the agent's typing signal

let typingCase = null;
let typingSentAt = 0;
let typingIdle = null;

/** Tell the customer the agent stopped typing (if they were told otherwise). */
export function stopTyping() {
  clearTimeout(typingIdle);
  if (typingCase !== null) sendTyping(typingCase, false);
  typingCase = null;
  typingSentAt = 0;
}

function agentTyped() {
  const caseId = store.openId();
  if (!caseId || store.caseModel(caseId).closed) return;
  if (!E.reply.value.trim()) { stopTyping(); return; }
  const now = Date.now();
  if (typingCase !== caseId) {
    stopTyping();
    typingCase = caseId;
    typingSentAt = 0;
  }
  if (now - typingSentAt >= TYPING_THROTTLE_MS) {
    sendTyping(caseId, true);
    typingSentAt = now;
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
}

// ---------------------------------------------------------------- replies

let sending = false;

function sendReply() {
  const caseId = store.openId();
  if (!caseId || sending) return;
  const c = store.caseModel(caseId);
  if (c.closed) return;
  const text = E.reply.value.trim();
  if (!text) { E.reply.focus(); return; }
  const msg = store.pendingMessage(c, text, newId);
  sending = true;
  E.send.disabled = true;
  E.send.textContent = 'Sending…';
  stopTyping();
  call(ACTIONS.REPLY, { case_id: caseId, text: text, client_msg_id: msg.id }).then((res) => {
    store.messageSent(c, msg);
    if (store.openId() === caseId && E.reply.value.trim() === text) E.reply.value = '';
    else if (c.draft.trim() === text) store.setDraft(c, '');
    if (res.seq !== undefined && res.seq !== null) {
      store.addEntry(c, { seq: res.seq, ts: nowSec(), role: 'agent', text: text, sender_name: store.me().display_name }, true);
      if (store.openId() === caseId) syncTranscript(c);
    }
  }, (err) => {
    showError(err, 'Message not sent.');
  }).then(() => {
    sending = false;
    E.send.textContent = 'Send';
    E.send.disabled = store.openCaseClosed();
  });
}

// ---------------------------------------------------------------- canned replies

export function renderCanned() {
  const keep = E.canned.options[0];
  clear(E.canned);
  E.canned.appendChild(keep);
  store.cannedReplies().forEach((item) => {
    if (!item || item.key === undefined) return;
    const opt = el('option', null, str(item.title || item.key));
    opt.value = str(item.key);
    E.canned.appendChild(opt);
  });
  E.canned.value = '';
}

function insertCanned() {
  const key = E.canned.value;
  const caseId = store.openId();
  if (!key || !caseId) return;
  E.canned.disabled = true;
  call(ACTIONS.CANNED, { case_id: caseId, key: key }).then((res) => {
    if (store.openId() !== caseId) return;
    const text = str(res.text);
    const current = E.reply.value;
    E.reply.value = current.trim() ? current.replace(/\s+$/, '') + '\n\n' + text : text;
    E.reply.focus();
    E.reply.setSelectionRange(E.reply.value.length, E.reply.value.length);
    agentTyped();
  }, (err) => {
    showError(err, 'Could not load the canned reply.');
  }).then(() => {
    E.canned.value = '';
    E.canned.disabled = store.openCaseClosed();
  });
}

export function initComposer() {
  E.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendReply();
  });
  E.reply.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      sendReply();
    }
  });
  E.reply.addEventListener('input', agentTyped);
  E.reply.addEventListener('blur', () => {
    if (!E.reply.value.trim()) stopTyping();
  });
  E.canned.addEventListener('change', insertCanned);
}
