/*
 * Alerts for an agent whose console is not in front of them: a new waiting customer, or a new
 * message in one of the agent's conversations, plays a short sound (WebAudio, no sound file;
 * muted with the top bar's button, remembered in localStorage), raises a desktop notification
 * while the tab is hidden (Notification API; permission is asked once, on the agent's first
 * click or key press, as browsers require) and counts in the tab title: the unread messages of
 * conversations not open, plus what arrived while the tab was hidden.
 *
 * Leads (and admins) are also alerted when a service-level target is breached (flows/sla.yml):
 * the same sound and notification, and an alert under the top bar until dismissed.
 */

import { E, append, el } from './dom.js';
import { channelLabel, customerLabel, fmtClock, humanise, str } from './format.js';
import * as store from './state.js';

const MUTED_KEY = 'frontdesk.console.muted';
const ASKED_KEY = 'frontdesk.console.notifications-asked';
const BODY_MAX = 140;
const SLA_ALERTS_MAX = 6;
const TARGET_WORDS = { first_response: 'First response', resolution: 'Resolution' };

const baseTitle = document.title;

let hiddenUnseen = 0;     // alerts that arrived while the tab was hidden and no list counts
let knownQueue = null;    // case ids of the live queue last seen (null: none seen yet)
let audio = null;

// ---------------------------------------------------------------- settings kept in the browser

function remembered(key) {
  try { return window.localStorage.getItem(key); } catch (err) { return null; }
}
function remember(key, value) {
  try { window.localStorage.setItem(key, value); } catch (err) { /* private mode: not kept */ }
}

export function muted() { return remembered(MUTED_KEY) === '1'; }

function renderSound() {
  const off = muted();
  E.sound.textContent = off ? 'Sound off' : 'Sound on';
  E.sound.setAttribute('aria-pressed', off ? 'true' : 'false');
  E.sound.setAttribute('title', off ? 'Alert sounds are muted: click to turn them on' : 'Click to mute alert sounds');
}

// ---------------------------------------------------------------- sound, notification, title

/** A short two-tone chime (WebAudio oscillator). */
function chime() {
  if (muted()) return;
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (typeof Ctx !== 'function') return;
  try {
    if (!audio) audio = new Ctx();
    if (audio.state === 'suspended' && typeof audio.resume === 'function') audio.resume().catch(() => {});
    const t = audio.currentTime;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(1320, t + 0.1);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.32);
  } catch (err) {
    console.warn('frontdesk console: could not play the alert sound', err);
  }
}

function notify(title, body, tag) {
  const N = window.Notification;
  if (!document.hidden || typeof N !== 'function' || N.permission !== 'granted') return;
  try {
    const n = new N(title, { body: body.length > BODY_MAX ? body.slice(0, BODY_MAX - 1) + '…' : body, tag: tag });
    n.onclick = () => { window.focus(); if (typeof n.close === 'function') n.close(); };
  } catch (err) {
    console.warn('frontdesk console: could not show a notification', err);
  }
}

/** "(3) frontdesk console": unread messages in conversations not open, plus hidden-tab alerts. */
export function renderTitle() {
  const n = store.totalUnread() + hiddenUnseen;
  document.title = (n ? '(' + n + ') ' : '') + baseTitle;
}

function raise(title, body, tag, counted) {
  if (document.hidden && !counted) hiddenUnseen += 1;
  renderTitle();
  chime();
  notify(title, body, tag);
}

// ---------------------------------------------------------------- what the console reports

/** The live queue changed: customers not seen in it before start waiting. */
export function queueListed(items) {
  const ids = new Set();
  items.forEach((it) => { if (it && it.case_id !== undefined) ids.add(str(it.case_id)); });
  const before = knownQueue;
  knownQueue = ids;
  if (before === null) return; // the queue as it was when the console opened
  const fresh = items.filter((it) => it && it.case_id !== undefined && !before.has(str(it.case_id)));
  if (!fresh.length) return;
  const first = fresh[0];
  const who = customerLabel(first.customer);
  const body = fresh.length > 1 ? who + ' and ' + (fresh.length - 1) + ' more' : who + (first.summary ? ': ' + str(first.summary) : '');
  if (document.hidden) hiddenUnseen += fresh.length;
  renderTitle();
  chime();
  notify(fresh.length > 1 ? fresh.length + ' customers are waiting' : 'A customer is waiting', body, 'fd-queue');
}

/**
 * A customer wrote in one of the agent's conversations. counted: the message already counts as
 * unread in "my conversations" (its conversation is not the open one).
 */
export function customerWrote(caseId, who, text, counted) {
  if (!counted && !document.hidden) return; // the agent is looking at it
  raise('New message from ' + who, str(text), 'fd-case-' + caseId, counted);
}

/** The alerts under the top bar (made on the first breach). */
function slaList() {
  let box = document.querySelector('.fc-sla-alerts');
  if (!box) {
    box = el('section', 'fc-sla-alerts');
    box.setAttribute('aria-label', 'Service-level alerts');
    box.setAttribute('role', 'alert');
    const notice = document.querySelector('.fc-notice');
    if (notice && notice.parentNode) notice.parentNode.insertBefore(box, notice.nextSibling);
    else document.body.insertBefore(box, document.body.firstChild);
    box.addEventListener('click', (ev) => {
      const btn = ev.target.closest('.fc-sla-alert-dismiss');
      if (!btn) return;
      const item = btn.closest('.fc-sla-alert');
      if (item) item.remove();
      box.hidden = !box.children.length;
    });
  }
  return box;
}

/** A service-level target was breached (leads' consoles only: console/sla_alerts.py). */
export function slaBreached(data) {
  const what = (TARGET_WORDS[str(data.target)] || humanise(data.target)) + ' target missed';
  const who = customerLabel(data.customer);
  const where = [data.area ? humanise(data.area) : '', data.channel ? channelLabel(data.channel) : '']
    .filter(Boolean).join(', ');
  const holder = data.agent_name || data.agent ? 'held by ' + str(data.agent_name || data.agent) : 'still waiting';
  const body = who + (where ? ' (' + where + ')' : '') + ': due ' + fmtClock(data.due_at) + ', ' + holder;
  const box = slaList();
  const item = el('div', 'fc-sla-alert');
  item.setAttribute('data-case-id', str(data.case_id));
  item.setAttribute('data-target', str(data.target));
  const dismiss = el('button', 'fc-sla-alert-dismiss', '×');
  dismiss.type = 'button';
  dismiss.setAttribute('aria-label', 'Dismiss this alert');
  append(item, el('strong', 'fc-sla-alert-title', what), ' ', el('span', 'fc-sla-alert-body', body), dismiss);
  box.insertBefore(item, box.firstChild);
  while (box.children.length > SLA_ALERTS_MAX) box.removeChild(box.lastChild);
  box.hidden = false;
  raise(what, body, 'fd-sla-' + str(data.case_id) + '-' + str(data.target), false);
}

export function initAlerts() {
  renderSound();
  E.sound.addEventListener('click', () => {
    remember(MUTED_KEY, muted() ? '0' : '1');
    renderSound();
    if (!muted()) chime();
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) {
      hiddenUnseen = 0;
      renderTitle();
    }
  });
  // Browsers let a page ask for notifications, and start its sound, only from a user gesture.
  const firstGesture = () => {
    document.removeEventListener('pointerdown', firstGesture, true);
    document.removeEventListener('keydown', firstGesture, true);
    const N = window.Notification;
    if (typeof N === 'function' && N.permission === 'default' && remembered(ASKED_KEY) !== '1') {
      remember(ASKED_KEY, '1');
      try {
        const asked = N.requestPermission();
        if (asked && typeof asked.catch === 'function') asked.catch(() => {});
      } catch (err) { /* an old browser: no notifications */ }
    }
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!audio && typeof Ctx === 'function') {
      try { audio = new Ctx(); } catch (err) { audio = null; }
    }
  };
  document.addEventListener('pointerdown', firstGesture, true);
  document.addEventListener('keydown', firstGesture, true);
  renderTitle();
}
