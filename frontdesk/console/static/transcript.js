/* The transcript of the open case and the "Customer is typing…" line under it. */

import { E, append, clear, el } from './dom.js';
import { fileNode } from './files.js';
import { fmtClock, str } from './format.js';
import * as store from './state.js';

// Keep the transcript pinned to the newest message while the agent is at the bottom, also when
// the card above it grows or the window resizes; leave it alone when they scrolled up to read.
let stickToBottom = true;

/** True while the transcript follows the newest message (the agent has not scrolled up). */
export function followsNewest() { return stickToBottom; }

function roleLabel(e) {
  if (e.role === 'customer') return 'Customer';
  if (e.role === 'bot') return 'Bot';
  if (e.role === 'agent') return e.sender_name || 'Agent';
  return 'System';
}

function entryNode(e) {
  const li = el('li', 'fc-entry fc-role-' + e.role);
  li.setAttribute('data-key', e.key);
  if (e.seq !== null) li.setAttribute('data-seq', String(e.seq));
  if (e.role === 'system') {
    append(li, el('span', 'fc-entry-text', e.text));
    const t = fmtClock(e.ts);
    if (t) append(li, el('span', 'fc-entry-time', ' · ' + t));
    return li;
  }
  const meta = el('div', 'fc-entry-meta');
  append(meta, el('span', 'fc-entry-who', roleLabel(e)), el('span', 'fc-entry-time', fmtClock(e.ts)));
  const bubble = el('div', 'fc-entry-bubble');
  append(bubble, el('div', 'fc-entry-text', e.text));
  if (e.attachment) bubble.appendChild(fileNode(e.attachment));
  if (e.quick_replies.length) {
    const qr = el('div', 'fc-entry-qr');
    qr.setAttribute('aria-label', 'Buttons offered');
    e.quick_replies.forEach((q) => {
      const label = q && typeof q === 'object' ? (q.title || q.payload) : q;
      qr.appendChild(el('span', 'fc-qr', str(label)));
    });
    bubble.appendChild(qr);
  }
  append(li, meta, bubble);
  return li;
}

/** Bring the transcript DOM in line with the model: insert missing entries in seq order. */
export function syncTranscript(c) {
  const list = E.transcript;
  const fresh = list.getAttribute('data-case-id') !== c.id;
  if (fresh) {
    clear(list);
    list.setAttribute('data-case-id', c.id);
    stickToBottom = true;
  }
  const nearBottom = stickToBottom;
  const nodes = new Map();
  Array.prototype.forEach.call(list.children, (n) => { nodes.set(n.getAttribute('data-key'), n); });
  let prev = null;
  store.sortedEntries(c).forEach((e) => {
    let node = nodes.get(e.key);
    if (node && e.replaces) {
      const repl = entryNode(e);
      list.replaceChild(repl, node);
      node = repl;
      store.entryShown(e);
    }
    if (!node) {
      node = entryNode(e);
      const ref = prev ? prev.nextSibling : list.firstChild;
      list.insertBefore(node, ref);
    }
    prev = node;
  });
  if (!list.children.length) {
    list.appendChild(el('li', 'fc-entry fc-entry-empty', c.loaded ? 'No messages yet.' : 'Loading transcript…'));
    list.lastChild.setAttribute('data-key', 'empty');
  } else if (list.children.length > 1) {
    const empty = list.querySelector('.fc-entry-empty');
    if (empty) list.removeChild(empty);
  }
  if (nearBottom) {
    list.scrollTop = list.scrollHeight;
    stickToBottom = true;
  }
}

/** The "Customer is typing…" line of the open case, with what they have typed so far. */
export function renderTyping(c) {
  const shown = !!(c.typing && !c.closed);
  E.typing.hidden = !shown;
  const draft = shown ? str(c.customerDraft) : '';
  E.typing.textContent = draft ? 'Customer is typing: ' : 'Customer is typing…';
  if (draft) E.typing.appendChild(el('q', 'fc-typing-draft', draft));
  E.typing.classList.toggle('has-draft', !!draft);
}

export function initTranscript() {
  E.transcript.addEventListener('scroll', () => {
    const t = E.transcript;
    stickToBottom = t.scrollHeight - t.scrollTop - t.clientHeight < 60;
  });
  if (typeof window.ResizeObserver === 'function') {
    new window.ResizeObserver(() => {
      if (stickToBottom) E.transcript.scrollTop = E.transcript.scrollHeight;
    }).observe(E.transcript);
  }
}
