/* The case card: why a person was asked for, what the bot understood and captured, who and where. */

import { E, append, clear, el } from './dom.js';
import { fileNode } from './files.js';
import { channelLabel, customerLabel, fmtClock, fmtDuration, humanise, readable, str } from './format.js';
import { isOverdue } from './inbox.js';
import { waitSeconds } from './queue.js';
import { slaBadge } from './sla.js';
import * as store from './state.js';

function field(dl, label, value, extraClass) {
  if (value === null || value === undefined || value === '') return null;
  const wrap = el('div', 'fc-field-row' + (extraClass ? ' ' + extraClass : ''));
  const dd = el('dd', 'fc-field-value');
  if (typeof value === 'string' || typeof value === 'number') dd.textContent = String(value);
  else dd.appendChild(value);
  append(wrap, el('dt', 'fc-field-label', label), dd);
  dl.appendChild(wrap);
  return wrap;
}

function sameText(a, b) {
  const norm = (t) => str(t).replace(/\s+/g, ' ').trim().toLowerCase();
  return norm(a) === norm(b);
}

/** A left message: what the customer wrote, where the answer goes, and what was promised. */
function leftMessage(card) {
  const left = card.left_message;
  const box = el('section', 'fc-left-message');
  box.setAttribute('aria-label', 'Message left for an e-mail answer');
  append(box, el('span', 'fc-card-kicker', 'Message left for an answer by e-mail'));
  append(box, el('blockquote', 'fc-left-message-text', str(left.message) || '(no message)'));
  const dl = el('dl', 'fc-card-grid');
  field(dl, 'Answer to', str(left.email) || '—', 'fc-left-message-email fc-field-wide');
  const promise = el('span', 'fc-left-message-promise');
  const by = str(left.promised_reply_by) || fmtClock(left.promised_reply_at);
  append(promise, by ? 'Reply by ' + by : 'No reply time promised');
  const waiting = card.state !== 'closed' && card.state !== 'cancelled';
  if (waiting && isOverdue({ promised_reply_at: left.promised_reply_at })) append(promise, ' ', el('span', 'fc-overdue', 'Overdue'));
  field(dl, 'Promised', promise, 'fc-left-message-promised');
  box.appendChild(dl);
  return box;
}

/** Render the card of case model c. keep: leave the bot answers open when they were. */
export function renderCard(c, keep) {
  const card = c.card;
  const answersWereOpen = !!(keep && E.card.querySelector('.fc-bot-answers[open]'));
  clear(E.card);
  if (!card || typeof card !== 'object') {
    E.card.appendChild(el('p', 'fc-card-loading', c.loaded ? 'No case details.' : 'Loading case…'));
    return;
  }
  E.card.setAttribute('data-case-id', str(card.case_id || c.id));
  if (card.kind === 'message' && card.left_message && typeof card.left_message === 'object') {
    E.card.appendChild(leftMessage(card));
  }

  // Why a person was asked for, each thing said once (core/casecard.py leaves out a detail or
  // summary that repeats the reason).
  const reasonBox = el('div', 'fc-card-reason');
  const reason = readable(card.reason_text) || humanise(card.reason) || 'Asked for a person';
  append(reasonBox,
    el('span', 'fc-card-kicker', 'Handoff reason'),
    el('strong', 'fc-card-reason-text', reason));
  const detail = str(card.reason_detail);
  if (detail && !sameText(detail, reason)) append(reasonBox, el('span', 'fc-card-reason-detail', detail));
  E.card.appendChild(reasonBox);
  const summary = str(card.summary);
  if (summary && !sameText(summary, reason) && !sameText(summary, detail)) {
    E.card.appendChild(el('p', 'fc-card-summary', summary));
  }

  const dl = el('dl', 'fc-card-grid');

  // Area, intent and confidence.
  const ai = el('span', 'fc-card-intent');
  append(ai, el('span', 'fc-card-area', card.area ? humanise(card.area) : 'No area'));
  if (card.intent) append(ai, ' · ', el('code', 'fc-card-intent-name', str(card.intent)));
  const conf = card.confidence;
  if (conf !== null && conf !== undefined && isFinite(Number(conf))) {
    const pct = Math.round(Number(conf) * 100);
    const badge = el('span', 'fc-confidence' + (pct < 50 ? ' is-low' : pct < 80 ? ' is-mid' : ''), pct + '%');
    badge.setAttribute('title', 'Bot confidence in this intent');
    append(ai, ' ', badge);
  } else {
    append(ai, ' ', el('span', 'fc-confidence is-none', 'confidence n/a'));
  }
  field(dl, 'Area / intent', ai, 'fc-field-wide');

  // What the bot captured.
  const captured = card.captured && typeof card.captured === 'object' ? card.captured : {};
  const known = [['order_number', 'Order number'], ['email', 'E-mail'], ['product', 'Product']];
  known.forEach(([key, label]) => {
    const v = captured[key];
    field(dl, label, v === undefined || v === null || v === '' ? '—' : str(v),
      'fc-captured fc-captured-' + key.replace(/_/g, '-') + (v ? '' : ' is-missing'));
  });
  Object.keys(captured).forEach((key) => {
    if (key === 'order_number' || key === 'email' || key === 'product') return;
    const v = captured[key];
    if (v === null || v === undefined || v === '') return;
    field(dl, humanise(key), Array.isArray(v) ? v.map(str).join(', ') : (typeof v === 'object' ? JSON.stringify(v) : str(v)), 'fc-captured');
  });

  // Customer and where they are: the details known, else the server's label.
  const cust = card.customer && typeof card.customer === 'object' ? card.customer : {};
  const custParts = [cust.name, cust.email, cust.id ? 'ID ' + str(cust.id) : ''].filter(Boolean).map(str);
  const row = store.myCase(c.id);
  field(dl, 'Customer', custParts.length ? custParts.join(' · ') : customerLabel(row && row.customer, card.customer_label), 'fc-card-customer');
  field(dl, 'Language', card.language ? str(card.language).toUpperCase() : '—');
  const chan = channelLabel(card.channel) + (card.channel_user ? ' · ' + str(card.channel_user) : '');
  field(dl, 'Channel', chan, 'fc-card-channel');

  // Wait: fixed once an agent joined, ticking while still queued.
  let waitNode;
  if (card.joined_at || card.waited_seconds !== undefined && card.waited_seconds !== null && card.state !== 'queued') {
    const w = card.waited_seconds !== undefined && card.waited_seconds !== null
      ? Number(card.waited_seconds)
      : Number(card.joined_at) - Number(card.requested_at);
    waitNode = el('span', 'fc-card-wait', fmtDuration(w));
  } else {
    waitNode = el('span', 'fc-card-wait', fmtDuration(waitSeconds(card.requested_at, card.waited_seconds)));
    if (card.requested_at) waitNode.setAttribute('data-requested-at', str(card.requested_at));
  }
  const waitWrap = el('span');
  append(waitWrap, waitNode);
  if (card.requested_at) append(waitWrap, el('span', 'fc-muted', ' (asked ' + fmtClock(card.requested_at) + (card.joined_at ? ', joined ' + fmtClock(card.joined_at) : '') + ')'));
  field(dl, 'Waited', waitWrap);

  // Service-level targets (flows/sla.yml): time left in opening hours, at risk, breached, met.
  const first = slaBadge(card.sla, 'first_response', '');
  const resolve = slaBadge(card.sla, 'resolution', '');
  if (first) field(dl, card.kind === 'message' ? 'Reply target' : 'First response', first, 'fc-card-sla fc-card-sla-first');
  if (resolve) field(dl, 'Resolution', resolve, 'fc-card-sla fc-card-sla-resolve');

  if (card.page_url) {
    const url = str(card.page_url);
    let node;
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
  if (card.agent && str(card.agent) !== store.me().name) field(dl, 'Agent', str(card.agent));
  E.card.appendChild(dl);

  // The customer's photos and files on this topic (the bot cannot look at them).
  const files = Array.isArray(card.attachments) ? card.attachments.filter((a) => a && a.url) : [];
  if (files.length) {
    const box = el('section', 'fc-card-files');
    box.appendChild(el('h3', 'fc-card-files-title', 'Photos and files (' + files.length + ')'));
    const ul = el('ul', 'fc-card-files-list');
    files.forEach((a) => { ul.appendChild(append(el('li', 'fc-card-file'), fileNode(a))); });
    box.appendChild(ul);
    E.card.appendChild(box);
  }

  // The answers the bot already gave (collapsible).
  const answers = Array.isArray(card.bot_answers) ? card.bot_answers : [];
  const det = el('details', 'fc-bot-answers');
  append(det, el('summary', 'fc-bot-answers-summary',
    answers.length ? 'The bot already answered (' + answers.length + ')' : 'The bot gave no answers yet'));
  if (answers.length) {
    const ol = el('ol', 'fc-bot-answers-list');
    answers.forEach((a) => { ol.appendChild(el('li', 'fc-bot-answer', str(a))); });
    det.appendChild(ol);
  }
  if (answersWereOpen) det.open = true;
  E.card.appendChild(det);
}
