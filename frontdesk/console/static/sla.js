/*
 * Service-level targets on the queue and the case card (flows/sla.yml; the server's view is
 * core/sla.py's Sla.view: SlaView in events.js). Time left is OPENING time left: the badge
 * counts down by itself every second while the business is open (until `open_until`), stands
 * still while it is closed (until `opens_at`), turns "at risk" under `at_risk_below` of the
 * target and "breached" at the deadline — with no message from the server.
 */

import { el } from './dom.js';
import { fmtClock, fmtDuration, nowSec, str } from './format.js';

const RECEIVED = new WeakMap(); // view -> local time it arrived (its `now` is the server's)

function num(v) {
  const n = Number(v);
  return v === null || v === undefined || v === '' || !isFinite(n) ? null : n;
}

/** Opening seconds left at this moment, from the attributes the badge was drawn with. */
function leftNow(node) {
  const left = num(node.getAttribute('data-sla-left'));
  const then = num(node.getAttribute('data-sla-now'));
  const rx = num(node.getAttribute('data-sla-rx'));
  if (left === null || then === null || rx === null) return null;
  const t = then + (nowSec() - rx); // the server's clock now
  const until = num(node.getAttribute('data-sla-open-until'));
  const opens = num(node.getAttribute('data-sla-opens-at'));
  let passed;
  if (until !== null) passed = Math.min(t, until) - then; // open now, until closing time
  else if (opens !== null) passed = t - opens; // closed now: from the next opening
  else passed = t - then; // always open
  return left - Math.max(0, passed);
}

function stateOf(node, left) {
  const fixed = node.getAttribute('data-sla-fixed');
  if (fixed) return fixed;
  if (left === null) return 'ok';
  if (left <= 0) return 'breached';
  const target = num(node.getAttribute('data-sla-target')) || 0;
  const share = num(node.getAttribute('data-sla-risk')) || 0;
  return target && left < share * target ? 'at_risk' : 'ok';
}

const WORDS = { ok: '', at_risk: 'At risk', breached: 'Breached', met: 'Met', missed: 'Missed', stopped: 'Stopped' };

function paint(node) {
  const left = leftNow(node);
  const state = stateOf(node, left);
  node.setAttribute('data-sla-state', state);
  node.className = 'fc-sla is-' + state.replace('_', '-') + (node.getAttribute('data-sla-extra') || '');
  const label = node.getAttribute('data-sla-label') || '';
  let words;
  if (state === 'ok') words = fmtDuration(left) + ' left';
  else if (state === 'at_risk') words = 'At risk · ' + fmtDuration(left) + ' left';
  else if (state === 'breached') words = 'Breached' + (left !== null && left < 0 ? ' · ' + fmtDuration(-left) + ' over' : '');
  else words = WORDS[state] || state;
  node.textContent = (label ? label + ': ' : '') + words;
  const row = node.closest('[data-sla-row]');
  if (row) row.setAttribute('data-sla-state', state);
}

/**
 * A badge for one target of a view (which: 'first_response' | 'resolution'); null when the
 * case has no such target. label: shown before the time ("First response").
 */
export function slaBadge(view, which, label, extraClass) {
  if (!view || typeof view !== 'object') return null;
  const t = view[which];
  if (!t || typeof t !== 'object' || num(t.due_at) === null) return null;
  if (!RECEIVED.has(view)) RECEIVED.set(view, nowSec());
  const node = el('span', 'fc-sla');
  const set = (name, value) => { if (value !== null && value !== undefined) node.setAttribute(name, String(value)); };
  set('data-sla-label', label || '');
  set('data-sla-extra', extraClass ? ' ' + extraClass : '');
  set('data-sla-target', num(t.target_seconds));
  set('data-sla-risk', num(view.at_risk_below));
  const fixed = ['met', 'missed', 'stopped'].indexOf(str(t.state)) >= 0 ? str(t.state) : '';
  if (fixed) set('data-sla-fixed', fixed);
  else {
    set('data-sla-left', num(t.left_seconds));
    set('data-sla-now', num(view.now));
    set('data-sla-rx', RECEIVED.get(view));
    set('data-sla-open-until', num(view.open_until));
    set('data-sla-opens-at', num(view.opens_at));
  }
  const due = fmtClock(t.due_at);
  const doneAt = num(t.done_at);
  node.title = fixed && doneAt !== null
    ? (label || 'Target') + ' due ' + due + ', done ' + fmtClock(doneAt)
    : (label || 'Target') + ' due ' + due + ' (time left counts opening hours only)';
  paint(node);
  return node;
}

/** Every badge on the page, once a second (queue.js's tick). */
export function tickSla() {
  document.querySelectorAll('.fc-sla[data-sla-left]').forEach(paint);
}
