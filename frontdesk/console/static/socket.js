/*
 * The connection to the gateway (Socket.IO namespace /agent): connecting and reconnecting, the
 * connection indicator, actions with acknowledgements, and server events, each checked against
 * the schema in events.js before its handler runs.
 */

import { ACTIONS, NAMESPACE, SERVER_DISCONNECT_REASON, SERVER_EVENTS, SOCKET_EVENTS, checkPayload, isAction } from './events.js';
import { humanise, str } from './format.js';
import { ERROR_TEXT, hideConnError, setConn, showConnError } from './notify.js';

const ACK_TIMEOUT_MS = 10000;
const LOG_PREFIX = 'frontdesk console:';

let socket = null;

/** True when the Socket.IO client (/widget/vendor/socket.io.min.js) is loaded. */
export function clientLoaded() {
  return typeof window.io === 'function';
}

/**
 * Connect with the console's socket token. hooks.connected() runs on every connection (the
 * first and each reconnection), hooks.disconnected() when the connection drops.
 */
export function connect(token, hooks) {
  socket = window.io(NAMESPACE, {
    auth: { token: token },
    transports: ['websocket', 'polling']
  });
  socket.on(SOCKET_EVENTS.CONNECT, () => {
    setConn('online', 'Connected');
    hideConnError();
    hooks.connected();
  });
  socket.on(SOCKET_EVENTS.DISCONNECT, (reason) => {
    hooks.disconnected();
    if (reason === SERVER_DISCONNECT_REASON) {
      setConn('offline', 'Disconnected');
      showConnError('The server ended this session. Reload the page to sign in again.');
    } else {
      setConn('connecting', 'Reconnecting…');
    }
  });
  socket.on(SOCKET_EVENTS.CONNECT_ERROR, (err) => {
    if (!socket.active) {
      setConn('offline', 'Signed out');
      showConnError('Your console session is no longer valid' + (err && err.message ? ' (' + err.message + ')' : '') + '. Reload the page to sign in again.');
    } else {
      setConn('connecting', 'Reconnecting…');
    }
  });
}

/**
 * Handle a server event. A payload whose shape is not the documented one is logged and ignored,
 * and a handler that throws is logged: neither stops the console.
 */
export function onServer(event, handler) {
  if (Object.values(SERVER_EVENTS).indexOf(event) < 0) throw new Error('not a server event: ' + event);
  socket.on(event, (data) => {
    if (!checkPayload(event, data)) {
      console.warn(LOG_PREFIX, 'ignored a "' + event + '" event with an unexpected payload', data);
      return;
    }
    try {
      handler(data);
    } catch (err) {
      console.error(LOG_PREFIX, 'could not handle a "' + event + '" event', err, data);
    }
  });
}

/** Emit an action and wait for its ack: resolves with the answer when ok, else rejects with {code, message}. */
export function call(action, data) {
  return new Promise((resolve, reject) => {
    if (!isAction(action)) { reject({ code: 'bad_action', message: 'Unknown action ' + action + '.' }); return; }
    socket.timeout(ACK_TIMEOUT_MS).emit(action, data, (err, res) => {
      if (err) { reject({ code: 'timeout', message: ERROR_TEXT.timeout }); return; }
      if (!res || typeof res !== 'object') { reject({ code: 'bad_response', message: 'Unexpected answer from the server.' }); return; }
      if (res.ok) { resolve(res); return; }
      const e = res.error && typeof res.error === 'object' ? res.error : {};
      const code = str(e.code) || 'error';
      reject({ code: code, message: str(e.message) || ERROR_TEXT[code] || humanise(code) || 'Something went wrong.' });
    });
  });
}

/** Emit the typing action without waiting for an ack; dropped while disconnected. */
export function sendTyping(caseId, typing) {
  if (socket && socket.connected) socket.emit(ACTIONS.TYPING, { case_id: caseId, typing: typing });
}
