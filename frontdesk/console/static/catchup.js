/*
 * Catching up on transcript entries the console missed. A case_message can be lost on its way
 * (a Socket.IO message between gateway processes while Redis fails over, a connection that
 * dropped): when one arrives with a seq more than one past the highest a loaded case holds, or
 * the console reconnects, the case is fetched again (open_case) and the entries it missed are
 * merged in seq order (deduplicated by seq), so the agent never silently misses a customer
 * message. A fetch that fails is tried again a few times, and then on the case's next event.
 */

import { customerWrote } from './alerts.js';
import { ACTIONS } from './events.js';
import { customerLabel } from './format.js';
import { renderMyCases } from './mycases.js';
import { call } from './socket.js';
import * as store from './state.js';
import { syncTranscript } from './transcript.js';

const RETRY_MS = [1000, 3000, 10000];
const LOG_PREFIX = 'frontdesk console:';

/** case id -> {running, again, stale}: a fetch on its way, another due after it, the last failed. */
const progress = new Map();

function progressOf(caseId) {
  let p = progress.get(caseId);
  if (!p) {
    p = { running: false, again: false, stale: false };
    progress.set(caseId, p);
  }
  return p;
}

/** The highest seq among a case's entries (0: none). */
function highestSeq(c) {
  let max = 0;
  c.entries.forEach((e) => { if (e.seq !== null && e.seq > max) max = e.seq; });
  return max;
}

/**
 * True when a case_message shows that the console missed something before it: the case is
 * loaded and the entry's seq is more than one past the highest it holds, or the last catch-up
 * failed. Ask before adding the entry.
 */
export function missedBefore(c, entry) {
  if (!c.loaded || c.closed) return false;
  const p = progress.get(c.id);
  if (p && p.stale) return true;
  if (entry.seq === undefined || entry.seq === null) return false;
  const seq = Number(entry.seq);
  return isFinite(seq) && seq > highestSeq(c) + 1;
}

/** Show the entries a catch-up found: in the open transcript, else as unread, and alert. */
function showMissed(c, added) {
  if (!added.length) return;
  const open = c.id === store.openId();
  const mine = store.hasMyCase(c.id);
  if (open) {
    syncTranscript(c);
  } else if (mine) {
    added.forEach((e) => { if (e.role !== 'agent') store.addUnread(c.id); });
    renderMyCases();
  }
  const said = added.filter((e) => e.role === 'customer');
  if (said.length && mine) {
    const s = store.myCase(c.id);
    const who = customerLabel(s && s.customer, c.card && c.card.customer_label);
    customerWrote(c.id, who, said[said.length - 1].text, !open);
  }
}

/** Fetch a loaded case again and merge the transcript entries the console does not hold. */
export function catchUp(caseId, attempt) {
  const c = store.findCase(caseId);
  if (!c || !c.loaded || c.closed) return;
  const p = progressOf(caseId);
  if (p.running) { p.again = true; return; }
  p.running = true;
  p.again = false;
  const had = new Set(c.entries.keys());
  call(ACTIONS.OPEN_CASE, { case_id: caseId }).then((res) => {
    p.stale = false;
    store.applyTranscript(c, res.case);
    showMissed(c, store.sortedEntries(c).filter((e) => !had.has(e.key)));
  }, (err) => {
    p.stale = true;
    console.warn(LOG_PREFIX, 'could not fetch conversation ' + caseId + ' to catch up', err);
    const n = attempt || 0;
    if (n < RETRY_MS.length) {
      setTimeout(() => { if (p.stale && !p.running) catchUp(caseId, n + 1); }, RETRY_MS[n]);
    }
  }).catch((err) => {
    console.error(LOG_PREFIX, 'could not show what conversation ' + caseId + ' missed', err);
  }).then(() => {
    p.running = false;
    if (p.again) catchUp(caseId);
  });
}

/** After a reconnection: catch up every loaded case of ours but the open one (refreshed whole). */
export function catchUpMine() {
  const open = store.openId();
  store.myCaseIds().forEach((caseId) => { if (caseId !== open) catchUp(caseId); });
}
