/*
 * Photos and files: thumbnails and download links in the transcript and on the card, and the
 * agent's "Attach" button (POST /console/upload with the CSRF token, then the `reply` action
 * with the attachment id). Links are signed and expire; they are renewed whenever the case is
 * opened again.
 */

import { E, append, el } from './dom.js';
import { ACTIONS } from './events.js';
import { newId, nowSec, str } from './format.js';
import { showError } from './notify.js';
import { call } from './socket.js';
import * as store from './state.js';
import { syncTranscript } from './transcript.js';

const SIGNED = /^\/files\/[0-9a-f]{32}\?exp=\d+&sig=[A-Za-z0-9_-]+$/;
const ACCEPT = 'image/png,image/jpeg,image/gif,image/webp,application/pdf';

function sizeText(bytes) {
  const n = Number(bytes) || 0;
  if (n >= 1024 * 1024) return (n / (1024 * 1024)).toFixed(1) + ' MB';
  if (n >= 1024) return Math.round(n / 1024) + ' KB';
  return n + ' B';
}

/** A thumbnail (images) or a download link (PDF) for a FileRef; text only, never HTML. */
export function fileNode(file) {
  const url = file && typeof file.url === 'string' && SIGNED.test(file.url) ? file.url : null;
  const name = str(file && file.name) || 'file';
  const wrap = el('span', 'fc-file');
  if (!url) return append(wrap, el('span', 'fc-file-missing', name + ' (not available)'));
  const link = el('a', 'fc-file-link');
  link.href = url;
  link.target = '_blank';
  link.rel = 'noopener noreferrer';
  if (str(file.type).indexOf('image/') === 0) {
    const img = el('img', 'fc-file-thumb');
    img.src = url;
    img.alt = name;
    img.loading = 'lazy';
    link.appendChild(img);
    link.title = name + ' · ' + sizeText(file.size);
  } else {
    link.classList.add('fc-file-download');
    link.setAttribute('download', name);
    append(link, el('span', 'fc-file-name', name), el('span', 'fc-file-size', ' · ' + sizeText(file.size)));
  }
  return append(wrap, link);
}

async function upload(file) {
  const body = new FormData();
  body.append('file', file, file.name);
  const res = await fetch('/console/upload', {
    method: 'POST',
    body: body,
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': document.body.getAttribute('data-csrf-token') || '' }
  });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok || !data || !data.ok) {
    const message = data && data.error && data.error.message ? data.error.message : 'The upload failed (' + res.status + ').';
    throw { code: (data && data.error && data.error.code) || 'upload_failed', message: message };
  }
  return data.attachment;
}

async function sendFile(file, button) {
  const caseId = store.openId();
  if (!caseId) return;
  const c = store.caseModel(caseId);
  if (c.closed || store.isMessageCase(c)) return;
  button.disabled = true;
  button.textContent = 'Uploading…';
  try {
    const attachment = await upload(file);
    const res = await call(ACTIONS.REPLY, { case_id: caseId, text: '', attachment_id: attachment.id, client_msg_id: newId() });
    if (res.seq !== undefined && res.seq !== null) {
      store.addEntry(c, {
        seq: res.seq, ts: nowSec(), role: 'agent', text: '', sender_name: store.me().display_name,
        attachment: res.attachment || attachment
      }, true);
      if (store.openId() === caseId) syncTranscript(c);
    }
  } catch (err) {
    showError(err, 'File not sent.');
  } finally {
    button.disabled = false;
    button.textContent = 'Attach file';
  }
}

/** The "Attach file" button in the composer. */
export function initFiles() {
  const input = el('input', 'fc-file-input');
  input.type = 'file';
  input.accept = ACCEPT;
  input.hidden = true;
  const button = el('button', 'fc-attach fc-btn', 'Attach file');
  button.type = 'button';
  button.title = 'Send a photo or a PDF to the customer';
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const file = input.files && input.files[0];
    input.value = '';
    if (file) sendFile(file, button);
  });
  E.send.parentNode.insertBefore(button, E.send);
  E.send.parentNode.insertBefore(input, E.send);
}
