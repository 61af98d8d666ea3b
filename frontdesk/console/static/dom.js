/*
 * DOM helpers (text only) and the console page's elements.
 *
 * SECURITY: everything that comes from customers, agents or the server is put into the page with
 * textContent / text nodes (el() and append()); no module of the console assigns innerHTML.
 */

export const $ = (sel, root) => (root || document).querySelector(sel);

/** Create an element with a class name and optional text content (set as text, never HTML). */
export function el(tag, className, textValue) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (textValue !== undefined && textValue !== null) node.textContent = String(textValue);
  return node;
}

/** Append children (nodes or strings, as text); null, undefined and false are skipped. */
export function append(parent, ...children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return parent;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** Run render() and put the scroll positions of `nodes` back as they were. */
export function keepingScroll(nodes, render) {
  const saved = nodes.filter(Boolean).map((n) => [n, n.scrollTop]);
  try {
    render();
  } finally {
    saved.forEach(([n, top]) => { n.scrollTop = top; });
  }
}

/** The elements of console.html (modules are deferred: the document is parsed when this runs). */
export const E = {
  conn: $('.fc-conn'),
  error: $('.fc-error'),
  errorText: $('.fc-error-text'),
  errorDismiss: $('.fc-error-dismiss'),
  notice: $('.fc-notice'),
  presence: $('.fc-presence'),
  me: $('.fc-me'),
  agentName: $('.fc-agent-name'),
  queue: $('.fc-queue'),
  queueCount: $('.fc-queue-count'),
  queueEmpty: $('.fc-queue-empty'),
  inbox: $('.fc-inbox'),
  inboxCount: $('.fc-inbox-count'),
  inboxOverdue: $('.fc-inbox-overdue'),
  inboxEmpty: $('.fc-inbox-empty'),
  inboxNoMail: $('.fc-inbox-no-mail'),
  sound: $('.fc-sound'),
  customerPresence: $('.fc-customer-presence'),
  mailStatus: $('.fc-mail-status'),
  mailOff: $('.fc-mail-off'),
  mailOffTo: $('.fc-mail-off-to'),
  composerHint: $('.fc-composer-hint'),
  closeQuestion: $('.fc-close-question'),
  my: $('.fc-my-cases'),
  myCount: $('.fc-my-count'),
  myEmpty: $('.fc-my-empty'),
  caseRoot: $('.fc-case'),
  caseEmpty: $('.fc-case-empty'),
  caseMain: $('.fc-case-main'),
  caseSide: $('.fc-case-side'),
  caseCustomer: $('.fc-case-customer'),
  caseChannel: $('.fc-case-channel'),
  caseState: $('.fc-case-state'),
  closedBanner: $('.fc-closed-banner'),
  card: $('.fc-card'),
  transcript: $('.fc-transcript'),
  typing: $('.fc-typing'),
  composer: $('.fc-composer'),
  reply: $('.fc-reply-text'),
  send: $('.fc-send'),
  canned: $('.fc-canned'),
  transfer: $('.fc-transfer'),
  transferSend: $('.fc-transfer-send'),
  close: $('.fc-close'),
  closeBox: $('.fc-close-confirm-box'),
  closeConfirm: $('.fc-close-confirm'),
  closeCancel: $('.fc-close-cancel'),
  notes: $('.fc-notes'),
  noteText: $('.fc-note-text'),
  noteSend: $('.fc-note-send'),
  tags: $('.fc-tags'),
  tagsSave: $('.fc-tags-save'),
  tagsStatus: $('.fc-tags-status'),
  caseViewers: $('.fc-case-viewers'),
  holderBar: $('.fc-holder-bar'),
  holderText: $('.fc-holder-text'),
  takeOver: $('.fc-take-over'),
  transcriptLink: $('.fc-transcript-link'),
  earlier: $('.fc-earlier'),
  earlierEmpty: $('.fc-earlier-empty')
};
