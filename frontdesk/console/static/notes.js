/* Private notes on the open case (not sent to the customer). */

import { E, append, clear, el } from './dom.js';
import { ACTIONS } from './events.js';
import { fmtClock, nowSec, str } from './format.js';
import { showError } from './notify.js';
import { call } from './socket.js';
import * as store from './state.js';

function noteNode(n) {
  n = n && typeof n === 'object' ? n : {};
  const li = el('li', 'fc-note');
  const meta = el('div', 'fc-note-meta');
  append(meta, el('span', 'fc-note-agent', str(n.agent_display_name || n.agent) || 'Agent'), el('span', 'fc-note-time', fmtClock(n.ts)));
  append(li, meta, el('div', 'fc-note-text-body', str(n.text)));
  return li;
}

export function renderNotes(c) {
  clear(E.notes);
  c.notes.forEach((n) => { E.notes.appendChild(noteNode(n)); });
  if (!c.notes.length) E.notes.appendChild(el('li', 'fc-note-empty', 'No notes yet.'));
  E.notes.scrollTop = E.notes.scrollHeight;
}

function sendNote() {
  const caseId = store.openId();
  if (!caseId) return;
  const text = E.noteText.value.trim();
  if (!text) { E.noteText.focus(); return; }
  const c = store.caseModel(caseId);
  E.noteSend.disabled = true;
  call(ACTIONS.NOTE, { case_id: caseId, text: text }).then((res) => {
    const note = res.note && typeof res.note === 'object' ? res.note : { ts: nowSec(), agent: store.me().display_name, text: text };
    store.addNote(c, note);
    if (store.openId() === caseId) {
      if (E.noteText.value.trim() === text) E.noteText.value = '';
      renderNotes(c);
    } else if (c.noteDraft.trim() === text) {
      store.setNoteDraft(c, '');
    }
  }, (err) => {
    showError(err, 'Note not saved.');
  }).then(() => { E.noteSend.disabled = false; });
}

export function initNotes() {
  E.noteSend.addEventListener('click', sendNote);
  E.noteText.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); sendNote(); }
  });
}
