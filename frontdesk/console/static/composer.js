/*
 * The reply composer: sending replies, the agent's typing signal, and canned replies. For a left
 * message it writes the e-mail answer instead (Enter is a new line, Ctrl+Enter sends; no typing
 * signal: the customer is not in a chat).
 */

import { E, clear, el } from './dom.js';
import { ACTIONS } from './events.js';
import { newId, nowSec, str } from './format.js';
import { showError } from './notify.js';
import { call, sendTyping } from './socket.js';
import * as store from './state.js';
import { syncTranscript } from './transcript.js';

const TYPING_THROTTLE_MS = 2000;
const TYPING_IDLE_MS = 3000;
const CHAT_PLACEHOLDER = E.reply.getAttribute('placeholder') || '';
const CHAT_HINT = E.composerHint ? E.composerHint.textContent : '';

let hooks = { answered() {} };
let sending = false;

/** True when the open case is a left message: the composer writes an e-mail. */
function emailMode() {
  const caseId = store.openId();
  return !!caseId && store.isMessageCase(store.caseModel(caseId));
}

/**
 * Set the composer up for the open case: a chat reply, or an e-mail answer to a left message.
 * When this gateway cannot send e-mail, the agent is told so before writing anything: the
 * composer gives way to what to do instead (answer from her own mailbox, then close).
 */
export function renderComposerMode(c) {
  const email = store.isMessageCase(c);
  const to = email && c.card.left_message ? str(c.card.left_message.email) : '';
  const inChat = store.answeredInChat(c);  // WhatsApp: the answer goes to the chat, no e-mail
  const noMail = email && !inChat && !store.mailEnabled();
  E.mailOff.hidden = !noMail || !!c.closed;
  E.mailOffTo.textContent = to || 'the customer';
  E.composer.hidden = noMail;
  E.composer.classList.toggle('is-email', email);
  E.reply.setAttribute('placeholder', inChat
    ? 'Write your answer. It is sent to the customer on WhatsApp (as the approved template when they last wrote over 24 hours ago).'
    : email
    ? 'Write your answer. It is e-mailed to ' + (to || 'the customer') + ' with their message quoted, and shown in the chat if they come back.'
    : CHAT_PLACEHOLDER);
  E.reply.rows = email ? 5 : 3;
  if (E.composerHint) {
    E.composerHint.textContent = inChat
      ? 'Ctrl+Enter sends it on WhatsApp'
      : email
      ? (store.mailEnabled() ? 'Ctrl+Enter sends the e-mail' : 'E-mail is not set up on this gateway (SMTP_URL)')
      : CHAT_HINT;
  }
  if (!sending) E.send.textContent = inChat ? 'Send on WhatsApp' : email ? 'Send e-mail' : 'Send';
  if (noMail) E.send.disabled = true;
}

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
  if (!caseId || store.caseModel(caseId).closed || emailMode()) return;
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

/** Send the e-mail answer to the open left message; the case closes with it. */
function sendAnswer(caseId, c, text) {
  sending = true;
  E.send.disabled = true;
  E.send.textContent = 'Sending…';
  call(ACTIONS.ANSWER_MESSAGE, { case_id: caseId, text: text }).then((res) => {
    if (store.openId() === caseId && E.reply.value.trim() === text) E.reply.value = '';
    store.setDraft(c, '');
    if (res.seq !== undefined && res.seq !== null) {
      store.addEntry(c, { seq: res.seq, ts: nowSec(), role: 'agent', text: text, sender_name: store.me().display_name }, true);
      if (store.openId() === caseId) syncTranscript(c);
    }
    hooks.answered(caseId, res);
  }, (err) => {
    showError(err, 'E-mail not sent.');
  }).then(() => {
    sending = false;
    const inChat = store.answeredInChat(c);
    E.send.textContent = inChat ? 'Send on WhatsApp' : 'Send e-mail';
    E.send.disabled = store.openCaseClosed() || (!inChat && !store.mailEnabled());
  });
}

function sendReply() {
  const caseId = store.openId();
  if (!caseId || sending) return;
  const c = store.caseModel(caseId);
  if (c.closed) return;
  const text = E.reply.value.trim();
  if (!text) { E.reply.focus(); return; }
  if (store.isMessageCase(c)) { sendAnswer(caseId, c, text); return; }
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

/** h.answered(caseId, answer) runs when a left message was answered by e-mail. */
export function initComposer(h) {
  if (h) hooks = h;
  E.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendReply();
  });
  E.reply.addEventListener('keydown', (ev) => {
    if (emailMode()) {
      // An e-mail has paragraphs: Enter is a new line, Ctrl (or Cmd) + Enter sends.
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && !ev.isComposing) {
        ev.preventDefault();
        sendReply();
      }
      return;
    }
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
