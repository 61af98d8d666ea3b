/*
 * The offline inbox ("Messages"): messages customers left outside hours or with nobody online,
 * sorted by the reply time they were promised, overdue ones marked; they are answered by e-mail,
 * never from the live queue. Answers whose e-mail is not delivered yet stay listed (with why),
 * and any agent can try one again: an answer is never lost silently.
 */

import { E, append, clear, el } from './dom.js';
import { ACTIONS } from './events.js';
import { channelLabel, customerLabel, fmtClock, fmtDuration, nowSec, str } from './format.js';
import { notice, showError } from './notify.js';
import { call } from './socket.js';
import { claimFrom } from './queue.js';
import * as store from './state.js';

const REFRESH_MS = 30000; // overdue marks follow the clock

/** The server's "now" (this computer's clock corrected by the skew the queue revealed). */
function serverNow() { return nowSec() + store.clockSkew(); }

/** True when the promised reply time has passed and the message is still waiting. */
export function isOverdue(item) {
  if (!item || item.mail) return false;
  const promised = Number(item.promised_reply_at);
  if (!isFinite(promised) || promised <= 0) return !!item.overdue;
  return serverNow() > promised;
}

/** "Reply by 11:00", from the promise the customer was given. */
function promiseText(item) {
  const by = str(item.promised_reply_by) || fmtClock(item.promised_reply_at);
  return by ? 'Reply by ' + by : 'No reply time promised';
}

/** The sentence about an e-mail answer that is not delivered yet. */
export function mailText(mail) {
  if (!mail || typeof mail !== 'object') return '';
  const to = str(mail.to) ? ' to ' + str(mail.to) : '';
  const err = str(mail.error) ? ': ' + str(mail.error) : '';
  const tries = Number(mail.attempts) > 1 ? ' (' + Number(mail.attempts) + ' tries)' : '';
  switch (mail.state) {
    case 'sent': return 'Answer e-mailed' + to + (mail.sent_at ? ' at ' + fmtClock(mail.sent_at) : '') + '.';
    case 'retrying': return 'Answer' + to + ' not sent yet' + tries + err + '. Next try ' + (mail.next_attempt_at ? 'at ' + fmtClock(mail.next_attempt_at) : 'soon') + '.';
    case 'failed': return 'Answer' + to + ' could not be sent' + tries + err + '. Fix the cause and retry.';
    default: return 'Sending the answer' + to + '…';
  }
}

function itemNode(item) {
  const caseId = str(item.case_id);
  const overdue = isOverdue(item);
  const mail = item.mail && typeof item.mail === 'object' ? item.mail : null;
  const li = el('li', 'fc-inbox-item' + (overdue ? ' is-overdue' : '') + (mail ? ' has-mail fc-mail-' + str(mail.state) : ''));
  li.setAttribute('data-case-id', caseId);

  const top = el('div', 'fc-q-top');
  const label = customerLabel(item.customer, item.email);
  append(top, el('span', 'fc-q-customer', label));
  if (!mail) {
    const promise = el('span', 'fc-promise', promiseText(item));
    if (item.promised_reply_at) {
      const late = serverNow() - Number(item.promised_reply_at);
      promise.setAttribute('title', overdue ? 'Promised reply time passed ' + fmtDuration(late) + ' ago' : 'Promised to the customer');
    }
    append(top, promise);
    if (overdue) append(top, el('span', 'fc-overdue', 'Overdue'));
  }
  append(li, top);
  if (item.email && str(item.email) !== label) append(li, el('div', 'fc-inbox-email', str(item.email)));
  if (item.message) append(li, el('div', 'fc-inbox-message', str(item.message)));

  const bottom = el('div', 'fc-q-bottom');
  const meta = el('span', 'fc-q-meta');
  append(meta,
    el('span', 'fc-chip fc-chip-channel', channelLabel(item.channel)),
    item.language ? el('span', 'fc-chip fc-chip-lang', str(item.language).toUpperCase()) : null,
    item.left_at ? el('span', 'fc-muted', 'left ' + fmtClock(item.left_at)) : null);
  append(bottom, meta);
  if (mail) {
    append(li, el('div', 'fc-mail-line', mailText(mail)));
    if (mail.state === 'retrying' || mail.state === 'failed') {
      const retry = el('button', 'fc-mail-retry fc-btn fc-btn-small', 'Retry now');
      retry.type = 'button';
      retry.setAttribute('data-case-id', caseId);
      append(bottom, retry);
    }
  } else {
    const take = el('button', 'fc-inbox-claim fc-btn fc-btn-primary fc-btn-small', 'Answer');
    take.type = 'button';
    take.setAttribute('data-case-id', caseId);
    take.setAttribute('aria-label', 'Answer the message from ' + customerLabel(item.customer, item.email) + ' by e-mail');
    append(bottom, take);
  }
  append(li, bottom);
  return li;
}

export function renderInbox() {
  clear(E.inbox);
  let waiting = 0;
  let late = 0;
  store.messageItems().forEach((item) => {
    E.inbox.appendChild(itemNode(item));
    if (!item.mail) waiting += 1;
    if (isOverdue(item)) late += 1;
  });
  E.inboxCount.textContent = String(waiting);
  E.inboxOverdue.textContent = late + ' overdue';
  E.inboxOverdue.hidden = late === 0;
  E.inboxEmpty.hidden = E.inbox.children.length > 0;
  E.inboxNoMail.hidden = store.mailEnabled();
}

/** hooks.claimed(caseId, answer) runs when the agent took a message (as for the queue). */
export function initInbox(hooks) {
  E.inbox.addEventListener('click', (ev) => {
    const take = ev.target.closest('.fc-inbox-claim');
    if (take && !take.disabled) {
      claimFrom(take, hooks, {
        busy: 'Opening…', idle: 'Answer', failed: 'Could not take this message.',
      });
      return;
    }
    const retry = ev.target.closest('.fc-mail-retry');
    if (retry && !retry.disabled) {
      retry.disabled = true;
      call(ACTIONS.RETRY_MAIL, { case_id: retry.getAttribute('data-case-id') }).then(() => {
        notice('Trying to send the answer again…');
      }, (err) => {
        retry.disabled = false;
        showError(err, 'Could not retry the e-mail.');
      });
    }
  });
  setInterval(renderInbox, REFRESH_MS);
}
