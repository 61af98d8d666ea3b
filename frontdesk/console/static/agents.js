/* The team (the "Transfer to…" list) and transferring the open case to a colleague. */

import { E, clear, el } from './dom.js';
import { ACTIONS } from './events.js';
import { humanise, str } from './format.js';
import { showError } from './notify.js';
import { call } from './socket.js';
import * as store from './state.js';

export function renderAgents() {
  const current = E.transfer.value;
  const keep = E.transfer.options[0];
  const myName = store.me().name;
  clear(E.transfer);
  E.transfer.appendChild(keep);
  const others = store.agents().filter((a) => a && a.name && str(a.name) !== myName);
  others.sort((a, b) => {
    const av = a.status === 'available' ? 0 : 1;
    const bv = b.status === 'available' ? 0 : 1;
    return av - bv || str(a.display_name || a.name).localeCompare(str(b.display_name || b.name));
  });
  others.forEach((a) => {
    const load = a.capacity ? ' · ' + (Number(a.load) || 0) + '/' + a.capacity : '';
    const opt = el('option', null, str(a.display_name || a.name) + ' — ' + (humanise(a.status) || 'Offline') + load);
    opt.value = str(a.name);
    opt.setAttribute('data-status', str(a.status));
    E.transfer.appendChild(opt);
  });
  E.transfer.value = current;
  if (E.transfer.value !== current) E.transfer.value = '';
}

/** hooks.transferred(caseId, label) runs when the server accepted a transfer. */
export function initTransfer(hooks) {
  E.transferSend.addEventListener('click', () => {
    const caseId = store.openId();
    const to = E.transfer.value;
    if (!caseId) return;
    if (!to) { showError('Choose the agent to transfer this conversation to.'); E.transfer.focus(); return; }
    const label = E.transfer.options[E.transfer.selectedIndex].textContent.split(' — ')[0];
    E.transferSend.disabled = true;
    call(ACTIONS.TRANSFER, { case_id: caseId, to: to }).then(() => {
      hooks.transferred(caseId, label);
    }, (err) => {
      showError(err, 'Transfer failed.');
    }).then(() => {
      E.transferSend.disabled = store.openCaseClosed();
      E.transfer.value = '';
    });
  });
}
