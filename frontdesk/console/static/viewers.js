/*
 * Who is on the open case: the other agents viewing it and who of them is typing (the
 * case_viewers event), who has it (case_holder, the case view's holder) and "Take over" when
 * another agent has it; also the link to its printable transcript.
 *
 * This console tells the server which case it has open (the viewing action) whenever that
 * changes, again every HEARTBEAT_MS while it stays open (a view not renewed lapses on the
 * server), and after a reconnection.
 */

import { E, append, clear, el } from './dom.js';
import { ACTIONS } from './events.js';
import { str } from './format.js';
import { showError } from './notify.js';
import { call } from './socket.js';
import * as store from './state.js';

const HEARTBEAT_MS = 25000;
const TYPING_STALE_MS = 8000; // a colleague's typing signal not repeated by then is over

let viewing = null; // the case id the server was last told this console views
let hooks = { takenOver() {} };
let staleTimer = null;
const heardAt = new Map(); // case id -> when its viewers were last heard (ms)

function tell(caseId) {
  viewing = caseId;
  call(ACTIONS.VIEWING, { case_id: caseId }).then((res) => {
    if (caseId !== null && Array.isArray(res.viewers)) viewersChanged(caseId, res.viewers);
  }, () => { /* shown again by the next heartbeat or reconnection */ });
}

/** Tell the server again which case is open (after a reconnection). */
export function viewAgain() {
  tell(store.openId());
}

/** case_viewers: every agent on a case (this console's agent included). */
export function viewersChanged(caseId, viewers) {
  const c = store.setViewers(caseId, viewers);
  heardAt.set(caseId, Date.now());
  if (c && caseId === store.openId()) renderViewers(c);
}

/** case_holder: who has a case now. */
export function holderChanged(caseId, holder) {
  const c = store.setHolder(caseId, holder);
  if (c && caseId === store.openId()) renderCasePresence(c);
}

function renderViewers(c) {
  const me = store.me().name;
  const fresh = Date.now() - (heardAt.get(c.id) || 0) < TYPING_STALE_MS;
  const others = c.closed ? [] : c.viewers.filter((v) => str(v.name) !== me);
  clear(E.caseViewers);
  E.caseViewers.hidden = others.length === 0;
  if (!others.length) return;
  append(E.caseViewers, el('span', 'fc-viewers-label', 'Also here:'));
  others.forEach((v) => {
    const typing = !!v.typing && fresh;
    const chip = el('span', 'fc-viewer', str(v.display_name || v.name) + (typing ? ' is typing…' : ''));
    chip.setAttribute('data-agent', str(v.name));
    chip.setAttribute('data-typing', typing ? 'yes' : 'no');
    chip.setAttribute('title', typing ? 'Typing a reply on this conversation' : 'Has this conversation open');
    E.caseViewers.appendChild(chip);
  });
  clearTimeout(staleTimer);
  if (fresh && others.some((v) => v.typing)) {
    staleTimer = setTimeout(() => {
      const open = store.openCaseModel();
      if (open) renderViewers(open);
    }, TYPING_STALE_MS);
  }
}

function renderHolder(c) {
  const other = store.heldByOther(c) && !c.closed;
  E.holderBar.hidden = !other;
  if (!other) return;
  const name = str(c.holder.display_name || c.holder.name);
  E.holderText.textContent = name + ' has this conversation. Take it over to reply; ' + name + ' and the customer will be told.';
  E.takeOver.disabled = false;
  [E.reply, E.send, E.canned, E.transfer, E.transferSend, E.close].forEach((n) => { if (n) n.disabled = true; });
}

function renderTranscriptLink(c) {
  const conversation = c.card && c.card.conversation_id ? str(c.card.conversation_id) : '';
  E.transcriptLink.hidden = !conversation;
  if (conversation) E.transcriptLink.href = '/console/transcript/' + encodeURIComponent(conversation);
}

/** The open case's presence line, holder bar and transcript link; tells the server when the
 * open case changed. Called whenever the open case is rendered. */
export function renderCasePresence(c) {
  const open = store.openId();
  if (open !== viewing) tell(open);
  if (!c) return;
  renderViewers(c);
  renderHolder(c);
  renderTranscriptLink(c);
}

function takeOver() {
  const c = store.openCaseModel();
  if (!c) return;
  const caseId = c.id;
  E.takeOver.disabled = true;
  E.takeOver.textContent = 'Taking over…';
  call(ACTIONS.TAKE_OVER, { case_id: caseId }).then((res) => {
    store.setHolder(caseId, res.case && res.case.holder);
    hooks.takenOver(caseId, res);
  }, (err) => {
    showError(err, 'Could not take over this conversation.');
    E.takeOver.disabled = false;
  }).then(() => { E.takeOver.textContent = 'Take over'; });
}

/** h.takenOver(caseId, answer) runs when this agent took a case over (it is hers now). */
export function initViewers(h) {
  if (h) hooks = h;
  E.takeOver.addEventListener('click', takeOver);
  setInterval(() => { if (viewing !== null) tell(viewing); }, HEARTBEAT_MS);
}
