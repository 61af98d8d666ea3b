/*
 * frontdesk agent console: the entry module (loaded with <script type="module">; plain ES
 * modules, no build step).
 *
 * Talks to the gateway over the Socket.IO namespace /agent; every event and action is described
 * once, in events.js. The data lives in state.js; the other modules render a part of the page.
 *
 * SECURITY: everything that comes from customers, agents or the server is put into the page with
 * textContent / text nodes (see dom.js); no module assigns innerHTML. Tokens come from data-
 * attributes on <body>, so the page needs no inline script (CSP script-src 'self').
 */

import { initTransfer, renderAgents } from './agents.js';
import { initAlerts, queueListed, slaBreached } from './alerts.js';
import {
  answeredByUs, caseAssigned, caseClosed, caseMessage, caseUpdated, claimed, closedByUs,
  mailStatusChanged, markClosed, myCasesListed, pickCase, presenceChanged, refreshCase,
  renderOpenCase, setCustomerTyping, transferred
} from './caseview.js';
import { catchUpMine } from './catchup.js';
import { initClose } from './close.js';
import { initComposer, renderCanned, stopTyping } from './composer.js';
import { SERVER_EVENTS } from './events.js';
import { initFiles } from './files.js';
import { str } from './format.js';
import { initInbox, renderInbox } from './inbox.js';
import { initMyCases, renderMyCases } from './mycases.js';
import { initNotes } from './notes.js';
import { initNotify, setConn, showError } from './notify.js';
import { initPresence, renderAgentName, renderPresence } from './presence.js';
import { initQueue, renderQueue } from './queue.js';
import { clientLoaded, connect, onServer } from './socket.js';
import * as store from './state.js';
import { initTags, renderTags } from './tags.js';
import { initTranscript } from './transcript.js';
import { holderChanged, initViewers, viewAgain, viewersChanged } from './viewers.js';

const LOG_PREFIX = 'frontdesk console:';

/** One handler per server event; each gets a payload that passed checkPayload() (events.js). */
const HANDLERS = {
  [SERVER_EVENTS.HELLO](data) {
    store.applyHello(data);
    renderAgentName();
    renderPresence();
    renderCanned();
    renderAgents();
    renderMyCases();
    renderInbox();
    const c = store.openCaseModel();
    if (c) renderTags(c);
  },
  [SERVER_EVENTS.QUEUE](data) {
    store.setQueue(data.items);
    renderQueue();
    queueListed(store.queueItems());
  },
  [SERVER_EVENTS.MESSAGES](data) {
    store.setMessages(data.items, data.mail_enabled);
    renderInbox();
  },
  [SERVER_EVENTS.MAIL_STATUS](data) {
    mailStatusChanged(data);
  },
  [SERVER_EVENTS.SLA_BREACH](data) {
    slaBreached(data);
  },
  [SERVER_EVENTS.CUSTOMER_PRESENCE](data) {
    presenceChanged(data);
  },
  [SERVER_EVENTS.MY_CASES](data) {
    myCasesListed(data.items);
  },
  [SERVER_EVENTS.AGENTS](data) {
    store.setAgents(data.items);
    renderAgents();
  },
  [SERVER_EVENTS.CASE_ASSIGNED](data) {
    if (!caseAssigned(data.case !== undefined ? data.case : data)) {
      console.warn(LOG_PREFIX, 'ignored a case_assigned event without a case id', data);
    }
  },
  [SERVER_EVENTS.CASE_MESSAGE](data) {
    caseMessage(str(data.case_id), data.entry);
  },
  [SERVER_EVENTS.CUSTOMER_TYPING](data) {
    setCustomerTyping(store.caseModel(str(data.case_id)), !!data.typing, data.draft);
  },
  [SERVER_EVENTS.CASE_CLOSED](data) {
    caseClosed(str(data.case_id));
  },
  [SERVER_EVENTS.CASE_VIEWERS](data) {
    viewersChanged(str(data.case_id), data.viewers);
  },
  [SERVER_EVENTS.CASE_HOLDER](data) {
    holderChanged(str(data.case_id), data.holder);
  },
  [SERVER_EVENTS.CASE_TAKEN_OVER](data) {
    const by = data.by && data.by.display_name ? str(data.by.display_name) : 'Another agent';
    markClosed(str(data.case_id), by + ' took over this conversation. It is no longer yours.');
  },
  [SERVER_EVENTS.CASE_UPDATED](data) {
    if (!caseUpdated(data.case)) {
      console.warn(LOG_PREFIX, 'ignored a case_updated event without a case id', data);
    }
  }
};

function start() {
  initNotify();
  initAlerts();
  if (!clientLoaded()) {
    showError('The chat client could not be loaded. Reload the page.');
    setConn('offline', 'Offline');
    return;
  }

  connect(document.body.getAttribute('data-socket-token') || '', {
    connected() {
      const reconnected = store.markConnected();
      const c = store.openCaseModel();
      if (reconnected && c && !c.closed) refreshCase(c.id);
      if (reconnected) catchUpMine();  // what came in for our other cases while we were away
      if (reconnected) viewAgain();
    },
    disconnected() {
      stopTyping();
    }
  });
  Object.values(SERVER_EVENTS).forEach((event) => {
    if (typeof HANDLERS[event] === 'function') onServer(event, HANDLERS[event]);
    else console.error(LOG_PREFIX, 'no handler for the server event', event);
  });

  initPresence();
  initQueue({ claimed: claimed });
  initInbox({ claimed: claimed });
  initMyCases({ picked: pickCase });
  initTranscript();
  initComposer({ answered: answeredByUs });
  initFiles();
  initNotes();
  initTags();
  initTransfer({ transferred: transferred });
  initClose({ closed: closedByUs });
  initViewers({
    takenOver(caseId, res) {  // the case is ours now: shown again with its composer
      claimed(caseId, res);
      refreshCase(caseId);
    }
  });

  renderPresence();
  renderQueue();
  renderInbox();
  renderMyCases();
  renderOpenCase();
  // /console/#case=<id> opens that case (a colleague's too: read it, see who is on it, take over).
  const openLinked = () => {
    const linked = /^#case=([A-Za-z0-9_.:-]{1,64})$/.exec(window.location.hash);
    if (linked) pickCase(linked[1]);
  };
  window.addEventListener('hashchange', openLinked);
  openLinked();
}

start();
