/* The top bar: the agent's name and presence (available / away). */

import { E } from './dom.js';
import { ACTIONS } from './events.js';
import { showError } from './notify.js';
import { call } from './socket.js';
import * as store from './state.js';

export function renderPresence() {
  const status = store.me().status === 'away' ? 'away' : 'available';
  E.presence.value = status;
  E.me.setAttribute('data-status', status);
}

export function renderAgentName() {
  const me = store.me();
  E.agentName.textContent = me.display_name || me.name;
}

export function initPresence() {
  E.presence.addEventListener('change', () => {
    const wanted = E.presence.value;
    E.presence.disabled = true;
    call(ACTIONS.PRESENCE, { status: wanted }).then(() => {
      store.setMyStatus(wanted);
      renderPresence();
    }, (err) => {
      renderPresence(); // revert
      showError(err, 'Could not change your status.');
    }).then(() => { E.presence.disabled = false; });
  });
}
