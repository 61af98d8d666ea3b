/*
 * The open case: opening and refreshing it, its head (customer, channel, state), the closed
 * state, and what happens to a case as the server reports on it (assigned, message, typing,
 * updated, closed). The card, transcript and side panels render themselves (card.js, ...).
 */

import { customerWrote } from './alerts.js';
import { renderCard } from './card.js';
import { catchUp, missedBefore } from './catchup.js';
import { resetCloseConfirm } from './close.js';
import { renderComposerMode, stopTyping } from './composer.js';
import { E, keepingScroll } from './dom.js';
import { renderEarlier } from './earlier.js';
import { ACTIONS } from './events.js';
import { channelLabel, customerLabel, humanise, str } from './format.js';
import { mailText, renderInbox } from './inbox.js';
import { renderMyCases } from './mycases.js';
import { renderNotes } from './notes.js';
import { notice, showError } from './notify.js';
import { renderQueue } from './queue.js';
import { call } from './socket.js';
import * as store from './state.js';
import { renderTags } from './tags.js';
import { renderCasePresence } from './viewers.js';
import { followsNewest, renderTyping, syncTranscript } from './transcript.js';

const CUSTOMER_TYPING_STALE_MS = 15000;

let openRequest = 0;

// ---------------------------------------------------------------- rendering

/** Show the open case (or the "No conversation open" placeholder). keep: see refreshOpenCase(). */
export function renderOpenCase(keep) {
  const caseId = store.openId();
  const has = caseId !== null;
  E.caseEmpty.hidden = has;
  E.caseMain.hidden = !has;
  E.caseSide.hidden = !has;
  if (!has) {
    E.caseRoot.removeAttribute('data-case-id');
    renderCasePresence(null);
    return;
  }
  E.caseRoot.setAttribute('data-case-id', caseId);
  const c = store.caseModel(caseId);
  renderCaseHead();
  renderCard(c, keep);
  syncTranscript(c);
  renderTyping(c);
  renderNotes(c);
  renderTags(c);
  renderEarlier(c);
  renderCaseMode(c);
  renderClosedState(c);
  renderCasePresence(c);
}

/** A left message is answered by e-mail: the composer, the close button and the status line. */
function renderCaseMode(c) {
  const email = store.isMessageCase(c);
  renderComposerMode(c);
  E.close.textContent = email ? 'Close without e-mail…' : 'Close…';
  E.closeQuestion.textContent = email ? 'Close this message without answering it?' : 'Close this conversation?';
  renderMailStatus(c);
}

/** Where the e-mail answer of the open case stands. */
function renderMailStatus(c) {
  const mail = c.mail || (c.card && c.card.mail) || null;
  E.mailStatus.hidden = !mail;
  E.mailStatus.textContent = mail ? mailText(mail) : '';
  E.mailStatus.setAttribute('data-state', mail ? str(mail.state) : '');
}

/** Whether the customer still has a page with the chat open (hidden when unknown). */
function renderCustomerPresence(c) {
  const online = c.online;
  E.customerPresence.hidden = online !== true && online !== false;
  E.customerPresence.textContent = online ? 'On the page' : 'Not on the page';
  E.customerPresence.setAttribute('data-online', online ? 'yes' : 'no');
  E.customerPresence.setAttribute('title', online
    ? 'The customer has a page with the chat open'
    : 'The customer has no page with the chat open right now');
}

/** Re-render the open case as the agent left it: scroll positions and open details stay. */
function refreshOpenCase() {
  const scrolled = [E.card, E.caseSide, E.notes];
  if (!followsNewest()) scrolled.push(E.transcript);
  keepingScroll(scrolled, () => renderOpenCase(true));
}

export function renderCaseHead() {
  const caseId = store.openId();
  if (!caseId) return;
  const c = store.caseModel(caseId);
  const s = store.myCase(caseId) || {};
  const card = c.card || {};
  E.caseCustomer.textContent = customerLabel(s.customer, card.customer_label);
  E.caseChannel.textContent = channelLabel(card.channel || s.channel);
  const st = c.closed ? 'closed' : (card.state || s.state || '');
  E.caseState.textContent = humanise(st);
  E.caseState.hidden = !st;
  E.caseState.setAttribute('data-state', str(st));
  renderCustomerPresence(c);
}

function renderClosedState(c) {
  const closed = !!c.closed;
  E.closedBanner.hidden = !closed;
  if (closed) E.closedBanner.textContent = c.closedText || 'This conversation is closed.';
  E.caseRoot.classList.toggle('is-closed', closed);
  [E.reply, E.send, E.canned, E.transfer, E.transferSend, E.close].forEach((n) => { n.disabled = closed; });
  if (store.isMessageCase(c) && !store.answeredInChat(c) && !store.mailEnabled()) E.send.disabled = true;
  if (closed) {
    resetCloseConfirm();
    E.mailOff.hidden = true;
  }
  renderCaseHead();
}

// ---------------------------------------------------------------- opening

export function openCase(caseId) {
  caseId = str(caseId);
  const current = store.openId();
  if (current && current !== caseId) store.keepDrafts(store.caseModel(current), E.reply.value, E.noteText.value);
  stopTyping();
  resetCloseConfirm();
  store.setOpen(caseId);
  const c = store.caseModel(caseId);
  store.markRead(caseId);
  E.reply.value = c.draft;
  E.noteText.value = c.noteDraft;
  renderOpenCase();
  renderMyCases();
  refreshCase(caseId);
  // On a phone the conversation is below the lists: bring it into view.
  const narrow = window.matchMedia('(max-width: 760px)').matches;
  if (narrow) E.caseRoot.scrollIntoView({ block: 'start' });
  if (!c.closed && !E.composer.hidden) E.reply.focus({ preventScroll: narrow });
}

/** Fetch the case view again (open_case) and show it if the case is still open. */
export function refreshCase(caseId) {
  const token = ++openRequest;
  const c = store.caseModel(caseId);
  const rev = c.rev;
  return call(ACTIONS.OPEN_CASE, { case_id: caseId }).then((res) => {
    // A case_updated that came in meanwhile is newer than this answer: keep its card and side
    // data, take only the transcript entries (deduplicated).
    if (c.rev === rev) store.applyCaseData(c, res.case || {});
    else store.applyTranscript(c, res.case);
    if (store.openId() === caseId && token === openRequest) renderOpenCase();
  }, (err) => {
    if (store.openId() === caseId) {
      if (!c.loaded) renderCard(c);
      showError(err, 'Could not open this conversation.');
    }
  });
}

/** The agent picked one of their conversations: open it, or refresh it when already open. */
export function pickCase(caseId) {
  if (caseId === store.openId()) { refreshCase(caseId); return; }
  openCase(caseId);
}

/** Leave the open case (it was transferred away). */
function closeView(message) {
  stopTyping();
  store.setOpen(null);
  E.reply.value = '';
  E.noteText.value = '';
  renderOpenCase();
  renderMyCases();
  if (message) notice(message);
}

// ---------------------------------------------------------------- what the server reports

/** Put a case (from claim or case_assigned) into "my conversations". */
function adoptCase(s, raw) {
  store.adoptCase(s, raw);
  renderQueue();
  renderInbox();
  renderMyCases();
}

/** case_assigned: a case became ours (auto-assigned, transferred to us, or claimed here). */
export function caseAssigned(raw) {
  const s = store.caseSummary(raw);
  if (!s) return false;
  adoptCase(s, raw);
  if (s.case_id !== store.openId()) {
    if (!store.isClaiming(s.case_id)) notice('New conversation assigned: ' + customerLabel(s.customer));
    openCase(s.case_id);
  }
  return true;
}

/** The claim of caseId succeeded with this answer. */
export function claimed(caseId, res) {
  const s = store.caseSummary(res.case) || { case_id: caseId, unread: 0 };
  adoptCase(s, res.case);
  if (store.openId() !== s.case_id) openCase(s.case_id);
}

/** case_message: a new transcript entry; one that leaves a gap fetches what was missed. */
export function caseMessage(caseId, entry) {
  const c = store.caseModel(caseId);
  const missed = missedBefore(c, entry);
  const isNew = store.addEntry(c, entry, false);
  const role = str(entry.role);
  if (role === 'customer') setCustomerTyping(c, false);
  const open = caseId === store.openId();
  if (open) {
    syncTranscript(c);
  } else if (isNew && store.hasMyCase(caseId)) {
    if (role === 'customer' || role === 'system' || role === 'bot') {
      store.addUnread(caseId);
      renderMyCases();
    }
  }
  if (isNew && role === 'customer' && store.hasMyCase(caseId)) {
    const s = store.myCase(caseId);
    customerWrote(caseId, customerLabel(s && s.customer, c.card && c.card.customer_label), entry.text, !open);
  }
  if (missed) catchUp(caseId);
}

/** mail_status: an e-mail answer was sent, or a try failed (the inbox lists it meanwhile). */
export function mailStatusChanged(data) {
  const caseId = str(data.case_id);
  const c = store.setCaseMail(caseId, data);
  if (c && caseId === store.openId()) renderMailStatus(c);
}

/** customer_presence: the customer opened, or closed the last, page with the chat. */
export function presenceChanged(data) {
  const caseId = str(data.case_id);
  const c = store.setOnline(caseId, data.online);
  if (c && caseId === store.openId()) renderCustomerPresence(c);
}

/** We answered the left message caseId by e-mail: it is closed, its e-mail on its way. */
export function answeredByUs(caseId, res) {
  const c = store.caseModel(caseId);
  if (res && res.via) {  // answered in the customer's chat (WhatsApp), not by e-mail
    markClosed(caseId, 'Answer sent on WhatsApp, and kept in the conversation. The message is closed.');
    return;
  }
  if (res && res.mail && typeof res.mail === 'object') c.mail = res.mail;
  const to = c.mail && c.mail.to ? ' to ' + str(c.mail.to) : '';
  markClosed(caseId, 'Answer sent by e-mail' + to + ', and kept in the chat for when the customer comes back. The message is closed.');
  if (store.openId() === caseId) renderMailStatus(c);
}

/** customer_typing, and its expiry when the customer went quiet without saying so. */
export function setCustomerTyping(c, typing, draft) {
  const changed = store.setCustomerTyping(c, typing, () => setCustomerTyping(c, false), CUSTOMER_TYPING_STALE_MS, draft);
  if (c.id === store.openId()) renderTyping(c);
  if (changed && store.hasMyCase(c.id)) renderMyCases();
}

/**
 * case_updated: the card (or notes, tags, earlier cases) of a case changed. Its row in "my
 * conversations" follows; if it is open, it is shown again keeping the composer's draft (never
 * touched here) and the scroll positions. A case this console does not show is ignored.
 */
export function caseUpdated(view) {
  const s = store.caseSummary(view);
  if (!s) return false;
  const caseId = s.case_id;
  const open = store.openId() === caseId;
  if (!open && !store.hasMyCase(caseId) && !store.findCase(caseId)) return true;
  store.applyCaseUpdate(store.caseModel(caseId), view);
  renderMyCases();
  if (open) refreshOpenCase();
  return true;
}

/** The case ended for us: the open view shows why, and it leaves "my conversations". */
export function markClosed(caseId, text) {
  const c = store.closeCase(caseId, text);
  setCustomerTyping(c, false);
  if (store.openId() === caseId) {
    stopTyping();
    renderClosedState(c);
  }
  renderMyCases();
}

/** case_closed: closed by the customer, the system or another console of ours. */
export function caseClosed(caseId) {
  const c = store.findCase(caseId);
  if (c && c.closed && !store.hasMyCase(caseId)) return; // we closed it
  markClosed(caseId, 'This conversation is closed. The customer is back with the bot.');
}

/** my_cases: the server's list of our cases. */
export function myCasesListed(items) {
  const lost = store.replaceMyCases(items);
  if (lost) markClosed(lost, 'This conversation is no longer assigned to you.');
  renderMyCases();
  const open = store.openId();
  if (open && store.hasMyCase(open)) renderCaseHead();
}

/** The transfer of caseId to `label` was accepted. */
export function transferred(caseId, label) {
  store.closeCase(caseId, 'Transferred to ' + label + '.');
  if (store.openId() === caseId) closeView('Conversation transferred to ' + label + '.');
  else renderMyCases();
}

/** We closed caseId. */
export function closedByUs(caseId) {
  const text = store.isMessageCase(store.caseModel(caseId))
    ? 'You closed this message without an e-mail answer. Nothing was sent to the customer.'
    : 'You closed this conversation. The customer gets the satisfaction survey and is back with the bot.';
  markClosed(caseId, text);
}
