/* Closing the open case, with a confirmation step. */

import { E } from './dom.js';
import { ACTIONS } from './events.js';
import { showError } from './notify.js';
import { call } from './socket.js';
import * as store from './state.js';

export function resetCloseConfirm() {
  E.closeBox.hidden = true;
  E.close.hidden = false;
}

/** hooks.closed(caseId) runs when the server closed the case. */
export function initClose(hooks) {
  E.close.addEventListener('click', () => {
    if (!store.openId()) return;
    E.close.hidden = true;
    E.closeBox.hidden = false;
    E.closeConfirm.focus();
  });
  E.closeCancel.addEventListener('click', () => {
    resetCloseConfirm();
    E.close.focus();
  });
  E.closeBox.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { resetCloseConfirm(); E.close.focus(); }
  });
  E.closeConfirm.addEventListener('click', () => {
    const caseId = store.openId();
    if (!caseId) return;
    E.closeConfirm.disabled = true;
    call(ACTIONS.CLOSE, { case_id: caseId }).then(() => {
      hooks.closed(caseId);
      resetCloseConfirm();
    }, (err) => {
      showError(err, 'Could not close the conversation.');
    }).then(() => { E.closeConfirm.disabled = false; });
  });
}
