/* The queue ("Waiting"): customers waiting for a person, the Claim buttons and the wait counters. */

import { E, append, clear, el } from './dom.js';
import { ACTIONS } from './events.js';
import { channelLabel, customerLabel, fmtClock, fmtDuration, humanise, nowSec, readable, str } from './format.js';
import { showError } from './notify.js';
import { slaBadge, tickSla } from './sla.js';
import { call } from './socket.js';
import * as store from './state.js';

/** Seconds since requestedAt by the server's clock (fallback when there is no time). */
export function waitSeconds(requestedAt, fallback) {
  const r = Number(requestedAt);
  if (!isFinite(r) || r <= 0) return Number(fallback) || 0;
  return nowSec() + store.clockSkew() - r;
}

function waitClass(seconds) {
  return seconds >= 600 ? ' fc-wait-long' : seconds >= 300 ? ' fc-wait-mid' : '';
}

export function renderQueue() {
  clear(E.queue);
  store.queueItems().forEach((item) => {
    if (!item || item.case_id === undefined) return;
    const caseId = str(item.case_id);
    const customer = customerLabel(item.customer);
    const li = el('li', 'fc-queue-item');
    li.setAttribute('data-case-id', caseId);
    li.setAttribute('data-sla-row', '');  // its first-response mark: at risk, breached (sla.js)

    const top = el('div', 'fc-q-top');
    const wait = el('span', 'fc-wait');
    wait.setAttribute('data-requested-at', str(item.requested_at));
    wait.setAttribute('title', 'Waiting since ' + fmtClock(item.requested_at));
    const secs = waitSeconds(item.requested_at, item.waited_seconds);
    wait.textContent = fmtDuration(secs);
    wait.className = 'fc-wait' + waitClass(secs);
    append(top, el('span', 'fc-q-customer', customer), wait);

    const meta = el('div', 'fc-q-meta');
    append(meta,
      el('span', 'fc-chip fc-chip-channel', channelLabel(item.channel)),
      item.language ? el('span', 'fc-chip fc-chip-lang', str(item.language).toUpperCase()) : null,
      el('span', 'fc-chip fc-chip-area', item.area ? humanise(item.area) : 'No area'),
      slaBadge(item.sla, 'first_response', '', 'fc-chip'));

    const reason = el('div', 'fc-q-reason', readable(item.reason) || 'Asked for a person');
    if (item.intent) reason.setAttribute('title', 'Intent: ' + str(item.intent));

    const claim = el('button', 'fc-claim fc-btn fc-btn-primary fc-btn-small', 'Claim');
    claim.type = 'button';
    claim.setAttribute('data-case-id', caseId);
    claim.setAttribute('aria-label', 'Claim conversation with ' + customer);

    const bottom = el('div', 'fc-q-bottom');
    append(bottom, reason, claim);
    append(li, top, meta, bottom);
    E.queue.appendChild(li);
  });
  const n = E.queue.children.length;
  E.queueCount.textContent = String(n);
  E.queueEmpty.hidden = n > 0;
}

/** The waiting counters (queue, and the card while a case is still queued) tick every second. */
function tick() {
  const nodes = document.querySelectorAll('[data-requested-at]');
  for (const n of nodes) {
    const secs = waitSeconds(n.getAttribute('data-requested-at'), 0);
    n.textContent = fmtDuration(secs);
    if (n.classList.contains('fc-wait')) n.className = 'fc-wait' + waitClass(secs);
  }
  tickSla();
}

/**
 * Claim the case a button names (a live request or a left message): the button shows
 * `words.busy` meanwhile and `words.idle` again if the claim fails; hooks.claimed(caseId,
 * answer) runs when it succeeded.
 */
export function claimFrom(btn, hooks, words) {
  const caseId = btn.getAttribute('data-case-id');
  btn.disabled = true;
  btn.textContent = words.busy;
  store.claimStarted(caseId);
  call(ACTIONS.CLAIM, { case_id: caseId }).then((res) => {
    store.claimEnded(caseId);
    hooks.claimed(caseId, res);
  }, (err) => {
    store.claimEnded(caseId);
    btn.disabled = false;
    btn.textContent = words.idle;
    showError(err, words.failed);
  });
}

/** hooks.claimed(caseId, answer) runs when a claim succeeded. */
export function initQueue(hooks) {
  E.queue.addEventListener('click', (ev) => {
    const btn = ev.target.closest('.fc-claim');
    if (!btn || btn.disabled) return;
    claimFrom(btn, hooks, {
      busy: 'Claiming…', idle: 'Claim', failed: 'Could not claim this conversation.',
    });
  });
  setInterval(tick, 1000);
}
