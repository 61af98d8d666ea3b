/* Formatting of times, durations, codes, channels and customer labels (pure functions). */

const CHANNELS = { widget: 'Website', web: 'Website', webchat: 'Website', socketio: 'Website', telegram: 'Telegram', messenger: 'Messenger', facebook: 'Messenger' };

export function str(v) {
  return v === null || v === undefined ? '' : String(v);
}

function toMs(ts) {
  const n = Number(ts);
  if (!isFinite(n) || n <= 0) return null;
  return n > 1e12 ? n : n * 1000; // unix seconds (or already ms)
}
export function pad(n) { return n < 10 ? '0' + n : String(n); }

export function fmtClock(ts) {
  const ms = toMs(ts);
  if (ms === null) return '';
  const d = new Date(ms);
  const now = new Date();
  const hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
  if (d.toDateString() === now.toDateString()) return hm;
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' }) + ' ' + hm;
}

export function fmtDate(ts) {
  const ms = toMs(ts);
  if (ms === null) return '';
  const d = new Date(ms);
  const opts = { day: 'numeric', month: 'short' };
  if (d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(undefined, opts);
}

export function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + pad(s % 60) + 's';
  const h = Math.floor(m / 60);
  return h + 'h ' + pad(m % 60) + 'm';
}

export function humanise(code) {
  const t = str(code).replace(/[_-]+/g, ' ').trim();
  return t ? t.charAt(0).toUpperCase() + t.slice(1) : '';
}

/** A code ("customer_asked") in words, or a sentence from flows/ with its first letter
 * capitalised and otherwise as written ("e-mail" keeps its hyphen). */
export function readable(text) {
  const t = str(text).trim();
  if (!/\s/.test(t)) return humanise(t);
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export function channelLabel(ch) {
  const key = str(ch).toLowerCase();
  return CHANNELS[key] || humanise(ch) || 'Unknown channel';
}

/** The first of `candidates` that is a non-blank string (trimmed), or ''. */
export function labelOf(...candidates) {
  for (const c of candidates) {
    if (typeof c === 'string' && c.trim()) return c.trim();
  }
  return '';
}

/**
 * How the console names a customer: the server's label (queue and my_cases items carry
 * `customer`, the card `customer_label`, both from customer_label() in core/casecard.py), tried
 * in the order given, else "Visitor". The console never makes up a name of its own.
 */
export function customerLabel(...candidates) {
  return labelOf(...candidates) || 'Visitor';
}

export function newId() {
  if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
  return 'm' + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
}

export function nowSec() { return Date.now() / 1000; }
