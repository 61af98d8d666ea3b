/* The error banner, the notice line and the connection indicator in the top bar. */

import { E } from './dom.js';

const ERROR_HIDE_MS = 15000;
const NOTICE_HIDE_MS = 5000;

/** Texts for error codes the server (or the ack timeout) gives without a message. */
export const ERROR_TEXT = Object.freeze({
  at_capacity: 'You are at capacity. Close or transfer a conversation before claiming another.',
  already_taken: 'Another agent already took this conversation.',
  timeout: 'The server did not answer in time. Check your connection and try again.',
  not_found: 'This conversation no longer exists.',
  forbidden: 'You are not allowed to do that.'
});

let errorTimer = null;
let connError = false;
let noticeTimer = null;

/** Show an error ({code, message} or a text), optionally after a prefix such as "Note not saved." */
export function showError(err, prefix) {
  connError = false;
  const code = err && err.code ? String(err.code) : '';
  let message = err && err.message ? String(err.message) : '';
  if (!message) message = ERROR_TEXT[code] || (typeof err === 'string' ? err : 'Something went wrong.');
  E.errorText.textContent = prefix ? prefix + ' ' + message : message;
  if (code) E.error.setAttribute('data-code', code); else E.error.removeAttribute('data-code');
  E.error.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(hideError, ERROR_HIDE_MS);
}

/** An error about the connection: hidden again by hideConnError() once connected. */
export function showConnError(message) {
  showError(message);
  connError = true;
}

export function hideError() {
  clearTimeout(errorTimer);
  E.error.hidden = true;
  E.errorText.textContent = '';
  E.error.removeAttribute('data-code');
}

export function hideConnError() {
  if (connError) hideError();
}

export function notice(message) {
  E.notice.textContent = message;
  E.notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { E.notice.hidden = true; }, NOTICE_HIDE_MS);
}

/** The connection indicator: data-state online | connecting | offline, and its label. */
export function setConn(stateName, label) {
  E.conn.setAttribute('data-state', stateName);
  E.conn.textContent = label;
}

export function initNotify() {
  E.errorDismiss.addEventListener('click', hideError);
}
