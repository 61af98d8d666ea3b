/*!
 * frontdesk customer chat widget.
 * Plain ES2020 in one IIFE, no framework, no build step.
 *
 * Embed with one tag:
 *   <script src="https://HOST/widget/frontdesk-widget.js" defer></script>
 * Optional attributes: data-server, data-language, data-title.
 * Optional page config (set before the tag): window.frontdeskConfig = {customData: {...}, open: true}.
 * A logged-in shopper: customData {user_id, user_hash} (user_hash = hex HMAC-SHA256 of user_id
 * with the gateway's IDENTITY_SECRET, computed by the shop's backend) keeps one conversation
 * across the shopper's devices.
 *
 * The wire protocol is Rasa's socketio channel (session_request / session_confirm /
 * user_uttered / bot_uttered) plus frontdesk's extras (acks, history, typing, queue status...).
 * The server issues the session id and, in `session_token`, a resume token for it; both are kept
 * in localStorage and sent back with session_request. Without a valid token the server starts a
 * new conversation, and the widget adopts its id and clears what it showed.
 * See widget/README.md.
 *
 * Non-ASCII characters appear only in comments (UI strings use \u escapes), so the code works
 * on host pages in any character encoding, whatever charset the server declares.
 *
 * Security rule for this file: every piece of text that comes from a customer, the bot,
 * an agent or the server is put into the page with textContent (or as a text node), never
 * through innerHTML. Links are built as <a> elements with http(s) hrefs only.
 */
(function () {
  'use strict';

  if (window.__frontdeskWidgetLoaded) return;
  window.__frontdeskWidgetLoaded = true;

  // ---------------------------------------------------------------------------
  // Configuration
  // ---------------------------------------------------------------------------

  const SCRIPT =
    document.currentScript ||
    Array.from(document.getElementsByTagName('script'))
      .reverse()
      .find((s) => /frontdesk-widget(\.min)?\.js([?#]|$)/.test(s.src || '')) ||
    null;

  const attr = (name) => ((SCRIPT && SCRIPT.getAttribute(name)) || '').trim();
  const pageConfig =
    window.frontdeskConfig && typeof window.frontdeskConfig === 'object' ? window.frontdeskConfig : {};

  const SERVER = resolveServer();
  const KEY_SESSION = 'frontdesk_session_id';
  const KEY_TOKEN = 'frontdesk_resume_token'; // proves the conversation is ours (from session_token)
  const SESSION_ID_RE = /^[A-Za-z0-9_.:-]{8,128}$/;
  const KEY_OUTBOX = 'frontdesk_outbox';
  const TYPING_THROTTLE_MS = 2000; // at most one user_typing(true) per 2 s
  const TYPING_IDLE_MS = 3000; // user_typing(false) after 3 s without keystrokes
  const DRAFT_THROTTLE_MS = 500; // while an agent sees drafts: at most one user_typing{draft} per 0.5 s
  const DRAFT_IDLE_MS = 10000; // ... and "stopped typing" only after 10 s without keystrokes
  const MAX_DRAFT_CHARS = 1000; // the last characters of the draft are sent (the server's limit)
  const ACK_TIMEOUT_MS = 15000; // no ack by then: show "not sent" + retry (still auto-resent on reconnect)
  const HISTORY_WAIT_MS = 3000; // after session_confirm, wait this long for `history` before flushing the outbox
  const REMOTE_TYPING_MAX_MS = 30000; // hide a typing indicator whose "false" never came
  const OUTBOX_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  const MAX_MESSAGE_CHARS = 4000;
  const MAX_HOLD_MS = 60000; // longest wait a rate_limited ack can impose before resending

  function resolveServer() {
    const explicit = attr('data-server') || (typeof pageConfig.server === 'string' ? pageConfig.server : '');
    try {
      if (explicit) {
        const u = new URL(explicit, location.href);
        return { origin: u.origin, base: u.pathname.replace(/\/+$/, '') };
      }
      const u = new URL(SCRIPT && SCRIPT.src ? SCRIPT.src : location.href, location.href);
      return { origin: u.origin, base: '' };
    } catch (e) {
      return { origin: location.origin, base: '' };
    }
  }

  const serverUrl = (path) => SERVER.origin + SERVER.base + path;

  // ---------------------------------------------------------------------------
  // UI strings (the widget's own chrome; conversation text comes from the server)
  // ---------------------------------------------------------------------------

  const STRINGS = {
    en: {
      title: 'Chat with us',
      open: 'Open chat',
      close: 'Close chat',
      messages: 'Conversation',
      placeholder: 'Type your message\u2026', // Type your message…
      inputLabel: 'Message',
      send: 'Send',
      reconnecting: 'Reconnecting\u2026', // Reconnecting…
      sending: 'Sending\u2026', // Sending…
      failed: 'Not sent',
      retry: 'Retry',
      typing: 'typing\u2026', // typing…
      nameTyping: '{name} is typing\u2026', // {name} is typing…
      draftShared: 'The agent can see what you type before you send it.',
      joined: '{name} joined the chat',
      left: '{name} left the chat',
      dismiss: 'Dismiss',
      quickReplies: 'Suggested replies',
      image: 'Image',
      unavailable: 'Chat is unavailable right now. Please try again later.',
      unread: '{count} new',
      feedbackQuestion: 'Did this answer your question?', // Did this answer your question?
      feedbackYes: 'Yes',
      feedbackNo: 'No',
      feedbackThanks: 'Thanks for telling us.', // Thanks for telling us.
      slowDown: 'That was a lot at once \u2014 your message will go out in a few seconds.', // That was a lot at once — your message will go out in a few seconds.
      storeRetry: 'We couldn\'t save your message just now \u2014 we\'ll send it again in a moment, no need to retype it.', // We couldn't save your message just now — we'll send it again in a moment, no need to retype it.
      attach: 'Attach a photo or file',
      uploading: 'Uploading {name}\u2026', // Uploading {name}…
      dropHere: 'Drop the file to send it',
    },
    ru: {
      title: '\u041d\u0430\u043f\u0438\u0448\u0438\u0442\u0435 \u043d\u0430\u043c', // Напишите нам
      open: '\u041e\u0442\u043a\u0440\u044b\u0442\u044c \u0447\u0430\u0442', // Открыть чат
      close: '\u0417\u0430\u043a\u0440\u044b\u0442\u044c \u0447\u0430\u0442', // Закрыть чат
      messages: '\u041f\u0435\u0440\u0435\u043f\u0438\u0441\u043a\u0430', // Переписка
      placeholder: '\u0412\u0432\u0435\u0434\u0438\u0442\u0435 \u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435\u2026', // Введите сообщение…
      inputLabel: '\u0421\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435', // Сообщение
      send: '\u041e\u0442\u043f\u0440\u0430\u0432\u0438\u0442\u044c', // Отправить
      reconnecting: '\u041f\u0435\u0440\u0435\u043f\u043e\u0434\u043a\u043b\u044e\u0447\u0435\u043d\u0438\u0435\u2026', // Переподключение…
      sending: '\u041e\u0442\u043f\u0440\u0430\u0432\u043a\u0430\u2026', // Отправка…
      failed: '\u041d\u0435 \u043e\u0442\u043f\u0440\u0430\u0432\u043b\u0435\u043d\u043e', // Не отправлено
      retry: '\u041f\u043e\u0432\u0442\u043e\u0440\u0438\u0442\u044c', // Повторить
      typing: '\u043f\u0435\u0447\u0430\u0442\u0430\u0435\u0442\u2026', // печатает…
      nameTyping: '{name} \u043f\u0435\u0447\u0430\u0442\u0430\u0435\u0442\u2026', // {name} печатает…
      draftShared: '\u0421\u043e\u0442\u0440\u0443\u0434\u043d\u0438\u043a \u0432\u0438\u0434\u0438\u0442, \u0447\u0442\u043e \u0432\u044b \u043f\u0435\u0447\u0430\u0442\u0430\u0435\u0442\u0435, \u0435\u0449\u0451 \u0434\u043e \u043e\u0442\u043f\u0440\u0430\u0432\u043a\u0438.', // Сотрудник видит, что вы печатаете, ещё до отправки.
      joined: '{name} \u0442\u0435\u043f\u0435\u0440\u044c \u0432 \u0447\u0430\u0442\u0435', // {name} теперь в чате
      left: '{name} \u0431\u043e\u043b\u044c\u0448\u0435 \u043d\u0435 \u0432 \u0447\u0430\u0442\u0435', // {name} больше не в чате
      dismiss: '\u0417\u0430\u043a\u0440\u044b\u0442\u044c', // Закрыть
      quickReplies: '\u0412\u0430\u0440\u0438\u0430\u043d\u0442\u044b \u043e\u0442\u0432\u0435\u0442\u0430', // Варианты ответа
      image: '\u0418\u0437\u043e\u0431\u0440\u0430\u0436\u0435\u043d\u0438\u0435', // Изображение
      unavailable: '\u0427\u0430\u0442 \u0441\u0435\u0439\u0447\u0430\u0441 \u043d\u0435\u0434\u043e\u0441\u0442\u0443\u043f\u0435\u043d. \u041f\u043e\u043f\u0440\u043e\u0431\u0443\u0439\u0442\u0435 \u043f\u043e\u0437\u0436\u0435.', // Чат сейчас недоступен. Попробуйте позже.
      unread: '\u043d\u043e\u0432\u044b\u0445: {count}', // новых: {count}
      feedbackQuestion: '\u042d\u0442\u043e \u043e\u0442\u0432\u0435\u0442 \u043d\u0430 \u0432\u0430\u0448 \u0432\u043e\u043f\u0440\u043e\u0441?', // Это ответ на ваш вопрос?
      feedbackYes: '\u0414\u0430',
      feedbackNo: '\u041d\u0435\u0442',
      feedbackThanks: '\u0421\u043f\u0430\u0441\u0438\u0431\u043e \u0437\u0430 \u043e\u0446\u0435\u043d\u043a\u0443.', // Спасибо за оценку.
      slowDown: '\u0421\u043b\u0438\u0448\u043a\u043e\u043c \u043c\u043d\u043e\u0433\u043e \u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0439 \u043f\u043e\u0434\u0440\u044f\u0434 \u2014 \u043e\u0442\u043f\u0440\u0430\u0432\u0438\u043c \u0432\u0430\u0448\u0435 \u0447\u0435\u0440\u0435\u0437 \u043f\u0430\u0440\u0443 \u0441\u0435\u043a\u0443\u043d\u0434.', // Слишком много сообщений подряд — отправим ваше через пару секунд.
      storeRetry: '\u041d\u0435 \u0443\u0434\u0430\u043b\u043e\u0441\u044c \u0441\u043e\u0445\u0440\u0430\u043d\u0438\u0442\u044c \u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435 \u2014 \u043c\u044b \u043e\u0442\u043f\u0440\u0430\u0432\u0438\u043c \u0435\u0433\u043e \u0435\u0449\u0451 \u0440\u0430\u0437 \u0447\u0435\u0440\u0435\u0437 \u043c\u0433\u043d\u043e\u0432\u0435\u043d\u0438\u0435, \u043d\u0430\u0431\u0438\u0440\u0430\u0442\u044c \u0437\u0430\u043d\u043e\u0432\u043e \u043d\u0435 \u043d\u0443\u0436\u043d\u043e.', // Не удалось сохранить сообщение — мы отправим его ещё раз через мгновение, набирать заново не нужно.
      attach: '\u041f\u0440\u0438\u043b\u043e\u0436\u0438\u0442\u044c \u0444\u043e\u0442\u043e \u0438\u043b\u0438 \u0444\u0430\u0439\u043b', // Приложить фото или файл
      uploading: '\u0417\u0430\u0433\u0440\u0443\u0437\u043a\u0430 {name}\u2026', // Загрузка {name}…
      dropHere: '\u041e\u0442\u043f\u0443\u0441\u0442\u0438\u0442\u0435 \u0444\u0430\u0439\u043b, \u0447\u0442\u043e\u0431\u044b \u043e\u0442\u043f\u0440\u0430\u0432\u0438\u0442\u044c', // Отпустите файл, чтобы отправить
    },
    es: {
      title: 'Chatea con nosotros',
      open: 'Abrir chat',
      close: 'Cerrar chat',
      messages: 'Conversaci\u00f3n', // Conversación
      placeholder: 'Escribe tu mensaje\u2026', // Escribe tu mensaje…
      inputLabel: 'Mensaje',
      send: 'Enviar',
      reconnecting: 'Reconectando\u2026', // Reconectando…
      sending: 'Enviando\u2026', // Enviando…
      failed: 'No enviado',
      retry: 'Reintentar',
      typing: 'escribiendo\u2026', // escribiendo…
      nameTyping: '{name} est\u00e1 escribiendo\u2026', // {name} está escribiendo…
      draftShared: 'El agente ve lo que escribes antes de enviarlo.', // El agente ve lo que escribes antes de enviarlo.
      joined: '{name} se uni\u00f3 al chat', // {name} se unió al chat
      left: '{name} sali\u00f3 del chat', // {name} salió del chat
      dismiss: 'Cerrar',
      quickReplies: 'Respuestas sugeridas',
      image: 'Imagen',
      unavailable: 'El chat no est\u00e1 disponible ahora. Int\u00e9ntalo m\u00e1s tarde.', // El chat no está disponible ahora. Inténtalo más tarde.
      unread: '{count} nuevos',
      feedbackQuestion: '\u00bfEsto responde a tu pregunta?', // ¿Esto responde a tu pregunta?
      feedbackYes: 'S\u00ed',
      feedbackNo: 'No',
      feedbackThanks: 'Gracias por dec\u00edrnoslo.', // Gracias por decírnoslo.
      slowDown: 'Vas muy r\u00e1pido: enviaremos tu mensaje en unos segundos.', // Vas muy rápido: enviaremos tu mensaje en unos segundos.
      storeRetry: 'No hemos podido guardar tu mensaje \u2014 lo enviaremos de nuevo en un momento; no hace falta volver a escribirlo.', // No hemos podido guardar tu mensaje — lo enviaremos de nuevo en un momento; no hace falta volver a escribirlo.
      attach: 'Adjuntar una foto o un archivo',
      uploading: 'Subiendo {name}\u2026', // Subiendo {name}…
      dropHere: 'Suelta el archivo para enviarlo',
    },
  };

  function uiLangFor(tag) {
    const key = String(tag || '').toLowerCase().split(/[-_]/)[0];
    return Object.prototype.hasOwnProperty.call(STRINGS, key) ? key : 'en';
  }

  const explicitLanguage = attr('data-language') || (typeof pageConfig.language === 'string' ? pageConfig.language : '');
  let language = explicitLanguage || navigator.language || 'en';
  let uiLang = uiLangFor(language);
  const explicitTitle = attr('data-title') || (typeof pageConfig.title === 'string' ? pageConfig.title : '');
  let serverTitle = '';

  function t(key, vars) {
    let s = STRINGS[uiLang][key] || STRINGS.en[key] || key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, n) => (n in vars ? String(vars[n]) : m));
    return s;
  }

  // ---------------------------------------------------------------------------
  // Storage (localStorage can be blocked; fall back to memory for this page)
  // ---------------------------------------------------------------------------

  const memoryStore = Object.create(null);
  const store = {
    get(key) {
      try {
        const v = window.localStorage.getItem(key);
        if (v !== null) return v;
      } catch (e) {
        /* blocked storage */
      }
      return key in memoryStore ? memoryStore[key] : null;
    },
    set(key, value) {
      memoryStore[key] = value;
      try {
        window.localStorage.setItem(key, value);
      } catch (e) {
        /* blocked storage or quota: memory copy is kept */
      }
    },
  };

  // Whether the panel is open, kept for this tab (sessionStorage) so a reload or the next page
  // of the shop shows it as the customer left it; a new tab starts from the page's own setting.
  const KEY_PANEL = 'frontdesk_panel';
  const panelState = {
    get() {
      try {
        const v = window.sessionStorage.getItem(KEY_PANEL);
        return v === 'open' || v === 'closed' ? v : null;
      } catch (e) {
        return null; // blocked storage: the page's own setting decides
      }
    },
    set(open) {
      try {
        window.sessionStorage.setItem(KEY_PANEL, open ? 'open' : 'closed');
      } catch (e) {
        /* blocked storage */
      }
    },
  };

  function randomId() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID().replace(/-/g, '');
    if (c && typeof c.getRandomValues === 'function') {
      const b = new Uint8Array(16);
      c.getRandomValues(b);
      return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    }
    return (Date.now().toString(16) + Math.random().toString(16).slice(2) + Math.random().toString(16).slice(2))
      .replace(/\./g, '')
      .slice(0, 32);
  }

  // Both come from the server (session_confirm, session_token); none yet on a first visit.
  let sessionId = store.get(KEY_SESSION);
  if (!sessionId || !SESSION_ID_RE.test(sessionId)) sessionId = null;
  let resumeToken = store.get(KEY_TOKEN) || '';

  // The outbox holds customer messages the server has not acknowledged yet.
  function readOutbox() {
    try {
      const list = JSON.parse(store.get(KEY_OUTBOX) || '[]');
      return Array.isArray(list) ? list.filter((e) => e && typeof e.client_msg_id === 'string') : [];
    } catch (e) {
      return [];
    }
  }
  function writeOutbox(list) {
    const now = Date.now();
    store.set(KEY_OUTBOX, JSON.stringify(list.filter((e) => !e.created || now - e.created < OUTBOX_MAX_AGE_MS)));
  }
  function outboxAdd(entry) {
    const list = readOutbox().filter((e) => e.client_msg_id !== entry.client_msg_id);
    list.push(entry);
    writeOutbox(list);
  }
  function outboxRemove(id) {
    const list = readOutbox();
    const next = list.filter((e) => e.client_msg_id !== id);
    if (next.length !== list.length) writeOutbox(next);
  }
  const outboxForSession = () => readOutbox().filter((e) => e.session_id === sessionId);

  // ---------------------------------------------------------------------------
  // DOM helpers
  // ---------------------------------------------------------------------------

  function h(tag, className, attrs, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text != null) node.textContent = text;
    return node;
  }

  function svg(paths, viewBox) {
    const NS = 'http://www.w3.org/2000/svg';
    const s = document.createElementNS(NS, 'svg');
    s.setAttribute('viewBox', viewBox || '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    for (const d of paths) {
      const p = document.createElementNS(NS, 'path');
      p.setAttribute('d', d);
      s.appendChild(p);
    }
    return s;
  }

  function safeHttpUrl(raw, base) {
    try {
      const u = new URL(String(raw), base || location.href);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  // Appends `text` to `parent` as text nodes, turning http(s) URLs into safe anchors.
  function appendLinkified(parent, text) {
    const re = /\bhttps?:\/\/[^\s<>"'`]+/gi;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      let url = m[0];
      const trail = url.match(/[).,;:!?\]}]+$/);
      if (trail) url = url.slice(0, url.length - trail[0].length);
      const start = m.index;
      if (start > last) parent.appendChild(document.createTextNode(text.slice(last, start)));
      const href = safeHttpUrl(url);
      if (href) {
        const a = h('a', 'fd-link', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, url);
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(url));
      }
      last = start + url.length;
      re.lastIndex = Math.max(last, start + 1);
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function formatTime(ts) {
    if (ts == null || ts === '') return null;
    let d;
    if (typeof ts === 'number') d = new Date(ts < 1e12 ? ts * 1000 : ts);
    else d = new Date(String(ts));
    if (isNaN(d.getTime())) return null;
    // Shown in the customer's own time zone (the browser's); the tooltip names it.
    let long;
    try {
      long = d.toLocaleString([], {
        year: 'numeric',
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        timeZoneName: 'short',
      });
    } catch (e) {
      long = d.toLocaleString();
    }
    return {
      iso: d.toISOString(),
      short: d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
      long,
    };
  }

  const toSeq = (v) => (typeof v === 'number' && isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : null);

  // ---------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------

  let socket = null;
  let ready = false; // connected, session confirmed and history processed: safe to send
  let everConnected = false;
  let isFrontdeskServer = false; // saw a frontdesk-only event (history, widget_config, ack)
  let historyWaitTimer = null;
  let outboxRestored = false;
  let maxSeq = 0;
  let isOpen = false;
  let unread = 0;
  let holdUntil = 0; // a rate_limited ack asked us to wait: nothing is sent before then
  let holdTimer = null;
  let slowNotice = false; // the error banner shows the "slow down" notice

  const seenSeqs = new Set(); // every seq handled (rendered or deliberately empty)
  const elBySeq = new Map(); // seq -> message element
  const sentIds = new Map(); // client_msg_id -> element, for customer messages already confirmed
  const pending = new Map(); // client_msg_id -> {entry, el, state, attempt, inFlight}
  const msgData = new WeakMap(); // message element -> {quickReplies}

  let botTyping = false;
  let agentTyping = null; // {name} while an agent types
  let remoteTypingTimer = null;
  let typingActive = false;
  let lastTypingEmit = 0;
  let typingIdleTimer = null;
  let draftWanted = false; // the server said the agent who has the conversation sees drafts
  let draftTimer = null;
  let lastDraftAt = 0;
  let lastDraftSent = null;
  let draftNote = null; // "The agent can see what you type…" under the input

  // DOM refs
  let root, launcher, unreadBadge, panel, titleEl, statusEl, closeBtn, connEl, errorEl, errorText, errorClose;
  let list, typingEl, typingText, queueEl, form, inputLabel, input, sendBtn, qrRow;
  let attachBtn, fileInput, prechatEl;
  let filesConfig = null; // widget_config.files: {max_bytes, types, limit_mb}; null: no uploads
  let prechatConfig = null; // widget_config.prechat (flows/prechat.yml), when the form is on
  let uploading = false;

  // ---------------------------------------------------------------------------
  // UI construction
  // ---------------------------------------------------------------------------

  function buildUi() {
    root = h('div', 'fd-root', { 'data-fd-open': 'false', lang: uiLang });
    root.style.visibility = 'hidden'; // until our stylesheet has loaded
    if (typeof pageConfig.color === 'string') root.style.setProperty('--fd-accent', pageConfig.color);

    launcher = h('button', 'fd-launcher', { type: 'button', 'aria-expanded': 'false', 'aria-controls': 'fd-panel' });
    launcher.appendChild(
      svg(['M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z'])
    );
    unreadBadge = h('span', 'fd-unread', { 'aria-hidden': 'true' });
    unreadBadge.hidden = true;
    launcher.appendChild(unreadBadge);
    launcher.addEventListener('click', () => setOpen(!isOpen));

    panel = h('section', 'fd-panel', { id: 'fd-panel', role: 'dialog', 'aria-labelledby': 'fd-title' });
    panel.hidden = true;

    const header = h('header', 'fd-header');
    const headText = h('div', 'fd-header-text');
    titleEl = h('h2', 'fd-title', { id: 'fd-title' });
    statusEl = h('p', 'fd-status', { 'aria-live': 'polite' });
    headText.append(titleEl, statusEl);
    closeBtn = h('button', 'fd-close', { type: 'button' });
    closeBtn.appendChild(svg(['M6 6l12 12M18 6L6 18']));
    closeBtn.addEventListener('click', () => setOpen(false));
    header.append(headText, closeBtn);

    connEl = h('div', 'fd-conn', { role: 'status' });
    connEl.hidden = true;

    errorEl = h('div', 'fd-error', { role: 'alert' });
    errorEl.hidden = true;
    errorText = h('span', 'fd-error-text');
    errorClose = h('button', 'fd-error-close', { type: 'button' }, '\u00d7');
    errorClose.addEventListener('click', hideError);
    errorEl.append(errorText, errorClose);

    list = h('ol', 'fd-messages', { role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0' });

    typingEl = h('div', 'fd-typing', { 'aria-live': 'polite' });
    typingEl.hidden = true;
    const dots = h('span', 'fd-typing-dots', { 'aria-hidden': 'true' });
    dots.append(h('span'), h('span'), h('span'));
    typingText = h('span', 'fd-typing-text');
    typingEl.append(dots, typingText);

    queueEl = h('div', 'fd-queue', { role: 'status', 'aria-live': 'polite' });
    queueEl.hidden = true;

    form = h('form', 'fd-form', { novalidate: '' });
    inputLabel = h('label', 'fd-sr-only', { for: 'fd-input' });
    input = h('input', 'fd-input', {
      id: 'fd-input',
      type: 'text',
      autocomplete: 'off',
      maxlength: String(MAX_MESSAGE_CHARS),
      enterkeyhint: 'send',
    });
    sendBtn = h('button', 'fd-send', { type: 'submit' });
    attachBtn = h('button', 'fd-attach', { type: 'button' });
    attachBtn.appendChild(svg(['M21 12.5l-8.5 8.5a5 5 0 0 1-7-7L14 5.5a3.3 3.3 0 0 1 4.7 4.7L10.2 18.7a1.7 1.7 0 0 1-2.4-2.4L15.5 8.6']));
    attachBtn.hidden = true; // until the server says what it takes (widget_config.files)
    fileInput = h('input', 'fd-file-input', { type: 'file', tabindex: '-1', 'aria-hidden': 'true' });
    fileInput.hidden = true;
    attachBtn.addEventListener('click', () => fileInput.click());
    fileInput.addEventListener('change', () => {
      const file = fileInput.files && fileInput.files[0];
      fileInput.value = '';
      if (file) uploadFile(file);
    });
    form.append(attachBtn, fileInput, inputLabel, input, sendBtn);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      input.value = '';
      sendMessage(text);
      input.focus();
    });
    input.addEventListener('input', onLocalTyping);
    input.addEventListener('blur', stopLocalTyping);
    // A pasted screenshot or file is sent like a chosen one.
    input.addEventListener('paste', (ev) => {
      const files = ev.clipboardData && ev.clipboardData.files;
      if (filesConfig && files && files.length) {
        ev.preventDefault();
        uploadFile(files[0]);
      }
    });

    prechatEl = h('div', 'fd-prechat');
    prechatEl.hidden = true;
    draftNote = h('p', 'fd-draft-note', { role: 'note' });
    draftNote.hidden = true;
    panel.append(header, connEl, errorEl, list, typingEl, queueEl, prechatEl, form, draftNote);
    // Drag and drop a file onto the chat to send it.
    panel.addEventListener('dragover', (ev) => {
      if (!filesConfig || !ev.dataTransfer || Array.from(ev.dataTransfer.types || []).indexOf('Files') < 0) return;
      ev.preventDefault();
      panel.classList.add('fd-dragging');
    });
    panel.addEventListener('dragleave', (ev) => {
      if (ev.target === panel) panel.classList.remove('fd-dragging');
    });
    panel.addEventListener('drop', (ev) => {
      panel.classList.remove('fd-dragging');
      const files = ev.dataTransfer && ev.dataTransfer.files;
      if (!filesConfig || !files || !files.length) return;
      ev.preventDefault();
      uploadFile(files[0]);
    });
    list.addEventListener('scroll', () => {
      stuckToBottom = nearBottom();
    });
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => {
        if (stuckToBottom) list.scrollTop = list.scrollHeight;
      }).observe(list);
    }
    panel.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') setOpen(false, { focusLauncher: true });
    });

    root.append(panel, launcher);
    applyStrings();
    document.body.appendChild(root);
  }

  function applyStrings() {
    root.setAttribute('lang', uiLang);
    draftNote.textContent = t('draftShared');
    titleEl.textContent = explicitTitle || serverTitle || t('title');
    launcher.setAttribute('aria-label', isOpen ? t('close') : t('open'));
    closeBtn.setAttribute('aria-label', t('close'));
    errorClose.setAttribute('aria-label', t('dismiss'));
    list.setAttribute('aria-label', t('messages'));
    inputLabel.textContent = t('inputLabel');
    attachBtn.setAttribute('aria-label', t('attach'));
    attachBtn.setAttribute('title', t('attach'));
    panel.setAttribute('data-drop-text', t('dropHere'));
    input.setAttribute('aria-label', t('inputLabel'));
    input.setAttribute('placeholder', t('placeholder'));
    sendBtn.textContent = t('send');
    connEl.textContent = t('reconnecting');
    for (const p of pending.values()) renderState(p);
    renderTyping();
    renderUnread();
    if (qrRow) qrRow.setAttribute('aria-label', t('quickReplies'));
    for (const row of list.querySelectorAll('.fd-feedback')) renderFeedback(row);
  }

  function setOpen(open, opts) {
    const options = opts || {};
    isOpen = !!open;
    panelState.set(isOpen);
    panel.hidden = !isOpen;
    root.setAttribute('data-fd-open', String(isOpen));
    launcher.setAttribute('aria-expanded', String(isOpen));
    launcher.setAttribute('aria-label', isOpen ? t('close') : t('open'));
    if (isOpen) {
      unread = 0;
      renderUnread();
      scrollToBottom(true);
      if (options.focus !== false) input.focus({ preventScroll: true });
    } else {
      stopLocalTyping();
      if (options.focusLauncher) launcher.focus();
    }
  }

  function renderUnread() {
    unreadBadge.hidden = unread === 0 || isOpen;
    unreadBadge.textContent = unread > 9 ? '9+' : String(unread);
    launcher.setAttribute(
      'aria-label',
      (isOpen ? t('close') : t('open')) + (unread && !isOpen ? ' (' + t('unread', { count: unread }) + ')' : '')
    );
  }

  function showError(message) {
    errorText.textContent = String(message || t('failed'));
    errorEl.hidden = false;
    slowNotice = false;
  }
  function hideError() {
    errorEl.hidden = true;
    errorText.textContent = '';
    slowNotice = false;
  }

  function setConnectionNote(show) {
    connEl.hidden = !show;
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }
  // Whether the reader is following the end of the conversation; kept while the list is resized
  // (queue notice, typing line, error banner, on-screen keyboard) so the newest message stays visible.
  let stuckToBottom = true;
  function scrollToBottom(force) {
    if (force || stuckToBottom || nearBottom()) {
      list.scrollTop = list.scrollHeight;
      stuckToBottom = true;
    }
  }

  // ---------------------------------------------------------------------------
  // Messages
  // ---------------------------------------------------------------------------

  function normalizeQuickReplies(raw) {
    if (!Array.isArray(raw)) return [];
    const out = [];
    for (const q of raw) {
      if (!q || typeof q !== 'object') continue;
      const title = q.title != null ? String(q.title) : q.payload != null ? String(q.payload) : '';
      const payload = q.payload != null ? String(q.payload) : title;
      if (title) out.push({ title, payload });
    }
    return out;
  }

  // msg: {seq, ts, role, text, quick_replies, attachment, sender, client_msg_id}
  function buildMessage(msg) {
    const role = ['customer', 'bot', 'agent', 'system'].includes(msg.role) ? msg.role : 'bot';
    const li = h('li', 'fd-msg fd-msg-' + role);
    if (msg.seq != null) li.setAttribute('data-seq', String(msg.seq));

    if (role === 'agent' && msg.sender && msg.sender.name) {
      li.appendChild(h('div', 'fd-msg-sender', null, String(msg.sender.name)));
    }
    const bubble = h('div', 'fd-bubble');
    if (msg.text != null && msg.text !== '' && !isFilePlaceholder(msg)) {
      const textEl = h('div', 'fd-msg-text');
      if (role === 'customer') textEl.textContent = String(msg.text);
      else appendLinkified(textEl, String(msg.text));
      bubble.appendChild(textEl);
    }
    const att = msg.attachment;
    if (att && typeof att === 'object' && att.type === 'image' && att.payload) {
      const src = safeHttpUrl(att.payload.src, SERVER.origin + SERVER.base + '/');
      if (src) {
        const img = h('img', 'fd-msg-image', { src, alt: att.payload.alt ? String(att.payload.alt) : t('image'), loading: 'lazy' });
        bubble.appendChild(img);
      }
    }
    if (msg.file && typeof msg.file === 'object') {
      const node = buildFile(msg.file);
      if (node) bubble.appendChild(node);
    }
    li.appendChild(bubble);

    const meta = h('div', 'fd-msg-meta');
    const time = formatTime(msg.ts);
    // The time is drawn by CSS from data-time, so a message's textContent is just its text.
    if (time) meta.appendChild(h('time', 'fd-time', { datetime: time.iso, 'data-time': time.short, title: time.long }));
    li.appendChild(meta);

    if (role === 'bot' && msg.answer_id && msg.seq != null) li.appendChild(buildFeedback(toSeq(msg.seq), msg.rating));

    msgData.set(li, { quickReplies: role === 'customer' ? [] : normalizeQuickReplies(msg.quick_replies) });
    return li;
  }

  // A file sent without a caption is stored as "[name]" (what agents and other channels read);
  // the widget shows the file itself (a thumbnail or the name as a download link) instead.
  function isFilePlaceholder(msg) {
    const file = msg.file;
    return !!(file && typeof file === 'object' && String(msg.text) === '[' + String(file.name || 'file') + ']');
  }

  // A photo (a thumbnail opening the full image) or a file (a download link). The link is
  // signed by the server and expires; a local preview (blob:) is shown while uploading.
  function buildFile(file) {
    const raw = typeof file.url === 'string' ? file.url : '';
    const url = raw.indexOf('blob:') === 0 ? raw : raw.charAt(0) === '/' ? safeHttpUrl(serverUrl(raw)) : null;
    const name = String(file.name || 'file');
    if (!url) return h('span', 'fd-file-name', null, name);
    const link = h('a', 'fd-file', { href: url, target: '_blank', rel: 'noopener noreferrer' });
    if (String(file.type || '').indexOf('image/') === 0) {
      link.appendChild(h('img', 'fd-msg-image fd-file-thumb', { src: url, alt: name, loading: 'lazy' }));
    } else {
      link.setAttribute('download', name);
      link.classList.add('fd-file-download');
      link.append(h('span', 'fd-file-name', null, name));
    }
    return link;
  }

  // "Did this answer your question?" under a FAQ answer (answer_id from the server). Once
  // rated it shows the customer's answer, also after a reload (history's `rating`).
  function buildFeedback(seq, rating) {
    const row = h('div', 'fd-feedback', { role: 'group', 'data-seq': String(seq) });
    if (rating === 'yes' || rating === 'no') row.setAttribute('data-rating', rating);
    renderFeedback(row);
    return row;
  }

  function renderFeedback(row) {
    const seq = toSeq(row.getAttribute('data-seq'));
    const rating = row.getAttribute('data-rating');
    row.textContent = '';
    row.setAttribute('aria-label', t('feedbackQuestion'));
    row.classList.toggle('fd-feedback-rated', !!rating);
    row.appendChild(h('span', 'fd-feedback-question', null, t('feedbackQuestion')));
    if (rating) {
      row.appendChild(h('span', 'fd-feedback-rating', null, t(rating === 'yes' ? 'feedbackYes' : 'feedbackNo')));
      row.appendChild(h('span', 'fd-feedback-thanks', null, t('feedbackThanks')));
      return;
    }
    const choose = (helpful) => {
      if (!socket || !socket.connected) return;
      for (const b of row.querySelectorAll('button')) b.disabled = true;
      socket.timeout(ACK_TIMEOUT_MS).emit('answer_feedback', { seq, helpful }, (err, ack) => {
        if (err || !ack || !ack.ok) {
          for (const b of row.querySelectorAll('button')) b.disabled = false;
          return;
        }
        row.setAttribute('data-rating', helpful ? 'yes' : 'no');
        renderFeedback(row);
      });
    };
    const yes = h('button', 'fd-feedback-yes', { type: 'button' }, t('feedbackYes'));
    const no = h('button', 'fd-feedback-no', { type: 'button' }, t('feedbackNo'));
    yes.addEventListener('click', () => choose(true));
    no.addEventListener('click', () => choose(false));
    row.append(yes, no);
  }

  const isRenderable = (msg) =>
    (msg.text != null && msg.text !== '') ||
    (msg.file && typeof msg.file === 'object') ||
    (msg.attachment && typeof msg.attachment === 'object' && msg.attachment.type === 'image');

  // Inserts a message element in seq order. Live messages without a higher-seq neighbour go
  // to the end; history messages also go before any still-pending local message (those are
  // newer than anything the server has sent back).
  function insertMessage(li, seq, beforePending) {
    let before = null;
    for (const child of list.children) {
      if (child === qrRow) continue;
      const s = toSeq(child.getAttribute('data-seq'));
      if (seq != null && s != null && s > seq) {
        before = child;
        break;
      }
      if (beforePending && child.getAttribute('data-state') === 'sending') {
        before = child;
        break;
      }
      if (beforePending && child.getAttribute('data-state') === 'failed' && !child.hasAttribute('data-seq')) {
        before = child;
        break;
      }
    }
    list.insertBefore(li, before);
  }

  // The first screen (flows/greeting.yml, sent with `history` read from the beginning): a
  // greeting and topic buttons at the top of the conversation, there before the customer
  // types. It is not a message of the transcript (no seq, never stored) and costs no bot turn;
  // a topic button sends its payload like any quick reply. Shown once: a new one replaces it.
  function showGreeting(greeting) {
    const text = typeof greeting.text === 'string' ? greeting.text : '';
    const old = list.querySelector('.fd-greeting');
    if (old) old.remove();
    if (!text) return;
    const li = h('li', 'fd-greeting');
    const bubble = h('div', 'fd-bubble');
    const textEl = h('div', 'fd-greeting-text');
    appendLinkified(textEl, text);
    bubble.appendChild(textEl);
    li.appendChild(bubble);
    msgData.set(li, { quickReplies: normalizeQuickReplies(greeting.quick_replies) });
    list.insertBefore(li, list.firstChild);
    refreshQuickReplies();
    scrollToBottom(false);
  }

  function refreshQuickReplies() {
    if (qrRow) {
      qrRow.remove();
      qrRow = null;
    }
    const msgs = list.querySelectorAll('.fd-msg, .fd-greeting');
    const last = msgs[msgs.length - 1];
    if (!last) return;
    const data = msgData.get(last);
    if (!data || !data.quickReplies.length) return;
    qrRow = h('li', 'fd-quick-replies', { role: 'group', 'aria-label': t('quickReplies') });
    for (const qr of data.quickReplies) {
      const b = h('button', 'fd-quick-reply', { type: 'button' }, qr.title);
      b.addEventListener('click', () => {
        data.quickReplies = []; // used: never show these again
        sendMessage(qr.payload, qr.title);
      });
      qrRow.appendChild(b);
    }
    last.after(qrRow);
  }

  function bumpSeq(seq) {
    if (seq != null) {
      seenSeqs.add(seq);
      if (seq > maxSeq) maxSeq = seq;
    }
  }

  // Renders one message from the server unless it is already on screen.
  function ingest(msg, opts) {
    const fromHistory = !!(opts && opts.history);
    const seq = toSeq(msg.seq);
    msg.seq = seq;
    const id = typeof msg.client_msg_id === 'string' && msg.client_msg_id ? msg.client_msg_id : null;

    if (msg.role === 'customer' && id) {
      if (pending.has(id)) {
        confirmPending(id, seq);
        return;
      }
      if (sentIds.has(id)) {
        const existing = sentIds.get(id);
        if (seq != null && !existing.hasAttribute('data-seq') && !elBySeq.has(seq)) {
          existing.setAttribute('data-seq', String(seq));
          elBySeq.set(seq, existing);
        }
        bumpSeq(seq);
        return;
      }
      outboxRemove(id); // the server has it already: never resend
    }
    if (seq != null && seenSeqs.has(seq)) return;
    bumpSeq(seq);
    if (!isRenderable(msg)) return;

    const stick = nearBottom();
    const li = buildMessage(msg);
    insertMessage(li, seq, fromHistory);
    if (seq != null) elBySeq.set(seq, li);
    if (msg.role === 'customer' && id) sentIds.set(id, li);
    refreshQuickReplies();
    scrollToBottom(stick || msg.role === 'customer');

    if (!fromHistory && msg.role !== 'customer' && !isOpen) {
      unread += 1;
      renderUnread();
    }
  }

  // ---------------------------------------------------------------------------
  // Sending (outbox with acknowledgements)
  // ---------------------------------------------------------------------------

  function buildCustomData() {
    const extra = pageConfig.customData && typeof pageConfig.customData === 'object' ? pageConfig.customData : {};
    return Object.assign({ language, page_url: location.href }, extra);
  }

  function sendMessage(text, title) {
    const message = String(text == null ? '' : text).slice(0, MAX_MESSAGE_CHARS);
    if (!message.trim()) return;
    stopLocalTyping();
    const entry = {
      client_msg_id: randomId(),
      session_id: sessionId,
      message,
      customData: buildCustomData(),
      created: Date.now(),
    };
    if (title) entry.title = String(title);
    outboxAdd(entry);
    const p = addPending(entry);
    scrollToBottom(true);
    emitPending(p);
  }

  function addPending(entry) {
    const li = buildMessage({ role: 'customer', text: entry.title || entry.message, ts: entry.created, file: entry.file });
    li.setAttribute('data-client-msg-id', entry.client_msg_id);
    const p = { entry, el: li, state: 'sending', error: '', attempt: 0, inFlight: false };
    pending.set(entry.client_msg_id, p);
    list.appendChild(li);
    renderState(p);
    refreshQuickReplies();
    return p;
  }

  function renderState(p) {
    const li = p.el;
    li.setAttribute('data-state', p.state);
    li.classList.toggle('fd-msg-sending', p.state === 'sending');
    li.classList.toggle('fd-msg-failed', p.state === 'failed');
    const meta = li.querySelector('.fd-msg-meta');
    for (const old of meta.querySelectorAll('.fd-msg-status, .fd-retry')) old.remove();
    if (p.state === 'sending') {
      meta.appendChild(h('span', 'fd-msg-status', null, t('sending')));
    } else if (p.state === 'failed') {
      const txt = p.error ? t('failed') + ': ' + p.error : t('failed');
      meta.appendChild(h('span', 'fd-msg-status', null, txt));
      const retry = h('button', 'fd-retry', { type: 'button' }, t('retry'));
      retry.addEventListener('click', () => retryPending(p));
      meta.appendChild(retry);
    }
  }

  function setState(p, state, error) {
    p.state = state;
    p.error = error || '';
    renderState(p);
  }

  function emitPending(p) {
    if (p.inFlight) return;
    if (!socket || !ready || !socket.connected || Date.now() < holdUntil) {
      if (p.state !== 'failed') setState(p, 'sending');
      return; // flushed after the next session_request/history, or when the hold ends
    }
    const e = p.entry;
    const payload = { message: e.message, session_id: sessionId, customData: e.customData, client_msg_id: e.client_msg_id };
    if (e.title) payload.title = e.title;
    if (e.attachment_id) payload.attachment_id = e.attachment_id;
    p.inFlight = true;
    p.attempt += 1;
    const attempt = p.attempt;
    setState(p, 'sending');
    socket.timeout(ACK_TIMEOUT_MS).emit('user_uttered', payload, (err, ack) => {
      if (p.attempt !== attempt || pending.get(e.client_msg_id) !== p) return; // stale
      p.inFlight = false;
      if (err) {
        if (!isFrontdeskServer) {
          confirmPending(e.client_msg_id, null); // a plain Rasa server never acks
        } else {
          setState(p, 'failed'); // kept in the outbox: resent automatically after a reconnect
        }
        return;
      }
      isFrontdeskServer = true;
      if (ack && ack.ok) {
        confirmPending(e.client_msg_id, toSeq(ack.seq));
        if (slowNotice) hideError();
      } else {
        const error = (ack && ack.error) || {};
        if (error.code === 'rate_limited') {
          holdSending(error.retry_after); // kept in the outbox and sent again after the wait
          return;
        }
        if (error.code === 'store_unavailable' && error.retry_after) {
          holdSending(error.retry_after, 'storeRetry'); // Redis failing over: sent again
          return;
        }
        outboxRemove(e.client_msg_id); // rejected: only an explicit retry sends it again
        setState(p, 'failed', error.message ? String(error.message) : '');
      }
    });
  }

  // The server refused a message as sent too fast, or could not save it (Redis failing over):
  // wait `seconds`, then send every pending message again, in order (nothing already accepted
  // is sent twice: the ids are kept).
  function holdSending(seconds, notice) {
    const wait = Math.min(Math.max(Number(seconds) || 1, 0.2) * 1000, MAX_HOLD_MS);
    holdUntil = Math.max(holdUntil, Date.now() + wait + Math.random() * 200);
    showError(t(notice || 'slowDown'));
    slowNotice = true;
    clearTimeout(holdTimer);
    holdTimer = setTimeout(() => {
      holdTimer = null;
      holdUntil = 0; // timers may fire a little early: the hold ends here, not by the clock
      flushPending();
    }, holdUntil - Date.now());
  }

  function flushPending() {
    for (const p of Array.from(pending.values())) {
      if (p.state === 'failed' && !readOutbox().some((e) => e.client_msg_id === p.entry.client_msg_id)) continue;
      emitPending(p);
    }
  }

  function retryPending(p) {
    if (pending.get(p.entry.client_msg_id) !== p) return;
    outboxAdd(p.entry);
    p.inFlight = false;
    setState(p, 'sending');
    emitPending(p);
  }

  function confirmPending(id, seq) {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    outboxRemove(id);
    p.attempt += 1;
    if (seq != null) {
      const existing = elBySeq.get(seq);
      if (existing && existing !== p.el) {
        p.el.remove(); // already on screen (e.g. from another path): never show twice
        sentIds.set(id, existing);
        refreshQuickReplies();
        return;
      }
      p.el.setAttribute('data-seq', String(seq));
      elBySeq.set(seq, p.el);
      bumpSeq(seq);
    }
    sentIds.set(id, p.el);
    p.el.removeAttribute('data-client-msg-id');
    setState(p, 'sent');
  }

  function markFailedById(id, message) {
    const p = pending.get(id);
    if (!p) return;
    p.inFlight = false;
    p.attempt += 1;
    outboxRemove(id);
    setState(p, 'failed', message);
  }

  // Called once the server has confirmed the session and sent history (or after a short wait).
  function onSessionReady() {
    clearTimeout(historyWaitTimer);
    historyWaitTimer = null;
    if (!socket || !socket.connected) return;
    ready = true;
    if (!outboxRestored) {
      outboxRestored = true;
      for (const entry of outboxForSession()) {
        if (!pending.has(entry.client_msg_id) && !sentIds.has(entry.client_msg_id)) addPending(entry);
      }
      scrollToBottom(true);
    }
    flushPending();
  }

  // A conversation the server gave us instead of ours (ours could not be resumed): keep what
  // was typed and not yet accepted (it goes to the new conversation), forget what was shown.
  function adoptSession(id) {
    const previous = sessionId;
    sessionId = id;
    store.set(KEY_SESSION, id);
    resumeToken = '';
    store.set(KEY_TOKEN, '');
    const entries = readOutbox();
    let moved = false;
    for (const e of entries) {
      if (e.session_id == null || e.session_id === previous) {
        e.session_id = id;
        moved = true;
      }
    }
    if (moved) writeOutbox(entries);
    for (const p of pending.values()) p.entry.session_id = id;
    if (previous) clearConversation();
  }

  function clearConversation() {
    const keep = new Set(Array.from(pending.values(), (p) => p.el));
    for (const child of Array.from(list.children)) if (!keep.has(child)) child.remove();
    qrRow = null;
    seenSeqs.clear();
    elBySeq.clear();
    sentIds.clear();
    maxSeq = 0;
    unread = 0;
    botTyping = false;
    agentTyping = null;
    queueEl.textContent = '';
    queueEl.hidden = true;
    renderTyping();
    renderUnread();
    refreshQuickReplies();
  }

  // ---------------------------------------------------------------------------
  // Photos and files: POST /widget/upload (owner only: the resume token), then
  // user_uttered {attachment_id}. A refused file shows the server's reason; nothing else is lost.
  // ---------------------------------------------------------------------------

  function uploadFile(file) {
    if (!filesConfig || uploading) return;
    if (!sessionId || !resumeToken || !ready) {
      showError(t('unavailable'));
      return;
    }
    uploading = true;
    attachBtn.disabled = true;
    const note = h('li', 'fd-notice fd-uploading', null, t('uploading', { name: file.name || '' }));
    list.appendChild(note);
    scrollToBottom(true);
    const body = new FormData();
    body.append('session_id', sessionId);
    body.append('token', resumeToken);
    body.append('file', file, file.name || 'file');
    fetch(serverUrl('/widget/upload'), { method: 'POST', body, credentials: 'omit' })
      .then((res) => res.json().catch(() => ({ ok: false, error: { message: t('failed') } })))
      .then((data) => {
        if (!data || !data.ok || !data.attachment) {
          const error = (data && data.error) || {};
          showError(error.message ? String(error.message) : t('failed'));
          return;
        }
        hideError();
        sendFileMessage(data.attachment);
      })
      .catch(() => showError(t('unavailable')))
      .then(() => {
        uploading = false;
        attachBtn.disabled = false;
        note.remove();
      });
  }

  function sendFileMessage(attachment) {
    stopLocalTyping();
    const caption = input.value.trim() ? input.value.slice(0, MAX_MESSAGE_CHARS) : '';
    if (caption) input.value = '';
    const entry = {
      client_msg_id: randomId(),
      session_id: sessionId,
      message: caption,
      attachment_id: String(attachment.id),
      file: attachment,
      created: Date.now(),
    };
    if (!caption) entry.title = '[' + String(attachment.name || 'file') + ']';
    outboxAdd(entry);
    const p = addPending(entry);
    scrollToBottom(true);
    emitPending(p);
  }

  // ---------------------------------------------------------------------------
  // The optional pre-chat form (flows/prechat.yml): name and e-mail for the agent's card
  // ---------------------------------------------------------------------------

  const KEY_PRECHAT = 'frontdesk_prechat_done';
  const prechatDone = () => store.get(KEY_PRECHAT) === sessionId;

  function showPrechat(config, blocking) {
    prechatEl.textContent = '';
    const box = h('form', 'fd-prechat-form', { novalidate: '' });
    if (config.intro) box.appendChild(h('p', 'fd-prechat-intro', null, String(config.intro)));
    const inputs = {};
    for (const field of config.fields) {
      if (!field || (field.name !== 'name' && field.name !== 'email')) continue;
      const id = 'fd-prechat-' + field.name;
      const label = h('label', 'fd-prechat-label', { for: id }, String(field.label || field.name));
      const attrs = { id, name: field.name, type: field.name === 'email' ? 'email' : 'text', autocomplete: field.name, maxlength: '200' };
      if (field.required) attrs.required = '';
      const el = h('input', 'fd-prechat-input fd-prechat-' + field.name, attrs);
      el.value = field.value ? String(field.value) : '';
      inputs[field.name] = el;
      box.append(label, el);
    }
    const error = h('p', 'fd-prechat-error', { role: 'alert' });
    error.hidden = true;
    const actions = h('div', 'fd-prechat-actions');
    const submit = h('button', 'fd-prechat-submit', { type: 'submit' }, String(config.submit || t('send')));
    actions.appendChild(submit);
    const finish = () => {
      store.set(KEY_PRECHAT, sessionId || '');
      panel.classList.remove('fd-prechat-first');
      prechatEl.hidden = true;
      prechatEl.textContent = '';
      form.hidden = false;
      input.focus();
    };
    if (config.skip) {
      const skip = h('button', 'fd-prechat-skip', { type: 'button' }, String(config.skip));
      skip.addEventListener('click', finish);
      actions.appendChild(skip);
    }
    box.append(error, actions);
    box.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const answers = {};
      for (const [name, el] of Object.entries(inputs)) answers[name] = el.value.trim();
      if (!socket || !socket.connected) return;
      submit.disabled = true;
      socket.timeout(ACK_TIMEOUT_MS).emit('prechat', answers, (err, ack) => {
        submit.disabled = false;
        if (!err && ack && ack.ok) {
          finish();
          return;
        }
        error.textContent = ack && ack.error && ack.error.message ? String(ack.error.message) : t('failed');
        error.hidden = false;
      });
    });
    prechatEl.appendChild(box);
    prechatEl.hidden = false;
    form.hidden = !!blocking; // before the first message: the form comes first
    panel.classList.toggle('fd-prechat-first', !!blocking); // (the greeting's topic buttons too)
    const first = Object.values(inputs)[0];
    if (first && isOpen) first.focus();
    scrollToBottom(true);
  }

  // ---------------------------------------------------------------------------
  // The transcript by e-mail (offered once a person closed the conversation)
  // ---------------------------------------------------------------------------

  // texts: agent_left.transcript, in the conversation's language: {offer, button, ask_email,
  // email_label, send}. The request is `transcript_request {email?}`; its ack is
  // {ok, message} or {ok: false, error: {code, message}} (code email_needed: ask for one).
  function showTranscriptOffer(texts) {
    const old = list.querySelector('.fd-transcript');
    if (old) old.remove();
    const li = h('li', 'fd-transcript');
    const text = h('p', 'fd-transcript-text', null, String(texts.offer || ''));
    const button = h('button', 'fd-transcript-button', { type: 'button' }, String(texts.button || ''));
    const status = h('p', 'fd-transcript-status', { role: 'status' });
    status.hidden = true;
    li.append(text, button, status);
    let emailForm = null;
    const request = (email, submit) => {
      if (!socket || !socket.connected) return;
      submit.disabled = true;
      const data = email ? { email } : {};
      socket.timeout(ACK_TIMEOUT_MS).emit('transcript_request', data, (err, ack) => {
        submit.disabled = false;
        const error = ack && ack.ok === false ? ack.error || {} : null;
        if (!err && error && error.code === 'email_needed' && !emailForm) {
          button.hidden = true;
          emailForm = buildEmailForm();
          li.insertBefore(emailForm, status);
          emailForm.querySelector('input').focus();
          return;
        }
        status.hidden = false;
        status.textContent = err ? t('failed') : ack && ack.ok ? String(ack.message || '') : String((error && error.message) || t('failed'));
        status.classList.toggle('fd-transcript-error', !(ack && ack.ok));
        if (ack && ack.ok) {
          button.hidden = true;
          if (emailForm) emailForm.hidden = true;
        }
      });
    };
    const buildEmailForm = () => {
      const box = h('form', 'fd-transcript-form', { novalidate: '' });
      const label = h('label', 'fd-transcript-label', { for: 'fd-transcript-email' }, String(texts.ask_email || texts.email_label || ''));
      const field = h('input', 'fd-transcript-email', { id: 'fd-transcript-email', type: 'email', autocomplete: 'email', maxlength: '254', 'aria-label': String(texts.email_label || '') });
      const submit = h('button', 'fd-transcript-send', { type: 'submit' }, String(texts.send || t('send')));
      box.append(label, field, submit);
      box.addEventListener('submit', (ev) => {
        ev.preventDefault();
        request(field.value.trim(), submit);
      });
      return box;
    };
    button.addEventListener('click', () => request('', button));
    list.appendChild(li);
    scrollToBottom(false);
  }

  // ---------------------------------------------------------------------------
  // Typing
  // ---------------------------------------------------------------------------

  // While an agent has the conversation (and flows/handoff.yml show_customer_draft is on), the
  // server answers user_typing with {draft: true}: the agent then sees the text as it is typed,
  // sent at most every DRAFT_THROTTLE_MS. It is never stored and never reaches the bot.
  function emitTyping(typing, draft) {
    if (!socket || !socket.connected) return;
    const data = { session_id: sessionId, typing };
    if (typeof draft === 'string') data.draft = draft.slice(-MAX_DRAFT_CHARS);
    socket.volatile.timeout(ACK_TIMEOUT_MS).emit('user_typing', data, (err, ack) => {
      if (err || !ack || !ack.ok || typeof ack.draft !== 'boolean') return;
      setDraftWanted(ack.draft);
    });
  }

  function setDraftWanted(wanted) {
    const was = draftWanted;
    draftWanted = wanted;
    if (draftNote) draftNote.hidden = !wanted;
    if (wanted && !was && typingActive && input.value.trim()) sendDraft();
  }

  function sendDraft() {
    clearTimeout(draftTimer);
    draftTimer = null;
    const text = input.value;
    if (text === lastDraftSent) return;
    const wait = DRAFT_THROTTLE_MS - (Date.now() - lastDraftAt);
    if (wait > 0) {
      draftTimer = setTimeout(sendDraft, wait);
      return;
    }
    lastDraftAt = Date.now();
    lastDraftSent = text;
    typingActive = true;
    lastTypingEmit = lastDraftAt;
    emitTyping(true, text);
  }

  function onLocalTyping() {
    if (!input.value.trim()) {
      stopLocalTyping();
      return;
    }
    if (draftWanted) {
      sendDraft();
      clearTimeout(typingIdleTimer);
      typingIdleTimer = setTimeout(stopLocalTyping, DRAFT_IDLE_MS);
      return;
    }
    const now = Date.now();
    if (!typingActive || now - lastTypingEmit >= TYPING_THROTTLE_MS) {
      typingActive = true;
      lastTypingEmit = now;
      emitTyping(true);
    }
    clearTimeout(typingIdleTimer);
    typingIdleTimer = setTimeout(stopLocalTyping, TYPING_IDLE_MS);
  }

  function stopLocalTyping() {
    clearTimeout(typingIdleTimer);
    typingIdleTimer = null;
    clearTimeout(draftTimer);
    draftTimer = null;
    lastDraftSent = null;
    if (typingActive) {
      typingActive = false;
      emitTyping(false);
    }
  }

  let botActivity = '';

  function renderTyping() {
    const show = botTyping || !!agentTyping;
    typingEl.hidden = !show;
    typingText.textContent =
      agentTyping && agentTyping.name
        ? t('nameTyping', { name: agentTyping.name })
        : botActivity || (show ? t('typing') : '');
    clearTimeout(remoteTypingTimer);
    if (show) {
      remoteTypingTimer = setTimeout(() => {
        botTyping = false;
        agentTyping = null;
        renderTyping();
      }, REMOTE_TYPING_MAX_MS);
    }
  }

  // ---------------------------------------------------------------------------
  // Notices
  // ---------------------------------------------------------------------------

  function addNotice(text) {
    const last = list.lastElementChild === qrRow ? qrRow && qrRow.previousElementSibling : list.lastElementChild;
    if (last && last.classList.contains('fd-notice') && last.textContent === text) return;
    const li = h('li', 'fd-notice', null, text);
    list.appendChild(li);
    scrollToBottom(false);
  }

  // ---------------------------------------------------------------------------
  // Socket.IO
  // ---------------------------------------------------------------------------

  function loadStylesheet() {
    return new Promise((resolve) => {
      const href = serverUrl('/widget/frontdesk-widget.css');
      const existing = Array.from(document.querySelectorAll('link[rel="stylesheet"]')).find((l) => l.href === href);
      if (existing) return resolve();
      const link = h('link', null, { rel: 'stylesheet', href, 'data-frontdesk-widget': '' });
      link.addEventListener('load', () => resolve());
      link.addEventListener('error', () => resolve());
      (document.head || document.documentElement).appendChild(link);
      setTimeout(resolve, 5000);
    });
  }

  // Loads our copy of the Socket.IO client without clobbering a host page's own `io` global.
  function loadSocketIo() {
    return new Promise((resolve, reject) => {
      const hadIo = Object.prototype.hasOwnProperty.call(window, 'io');
      const previous = window.io;
      const s = h('script', null, { src: serverUrl('/widget/vendor/socket.io.min.js'), async: '' });
      s.addEventListener('load', () => {
        const io = window.io;
        if (hadIo) window.io = previous;
        else {
          try {
            delete window.io;
          } catch (e) {
            window.io = undefined;
          }
        }
        if (typeof io === 'function') resolve(io);
        else reject(new Error('socket.io client did not load'));
      });
      s.addEventListener('error', () => reject(new Error('socket.io client failed to load')));
      (document.head || document.documentElement).appendChild(s);
    });
  }

  // When a server process dies, all its widgets lose their connection at the same moment. They
  // come back spread out, not in one wave that knocks the next process over: socket.io-client's
  // exponential back-off (1 s, doubling, at most 15 s) with each delay drawn at random within
  // +-75 % of it, and a refused session_request is asked again after its retry_after, jittered.
  const RECONNECT = { reconnection: true, reconnectionDelay: 1000, reconnectionDelayMax: 15000, randomizationFactor: 0.75 };
  const jittered = (ms) => ms * (0.5 + Math.random()); // 50 % to 150 % of ms

  function requestSession(lastSeq) {
    if (!socket || !socket.connected) return;
    socket.emit(
      'session_request',
      {
        session_id: sessionId,
        resume_token: resumeToken || null,
        last_seq: lastSeq,
        customData: buildCustomData(),
        frontdesk: 1, // announces frontdesk's widget: the server then sends its extras
      },
      (ack) => {
        const error = ack && ack.ok === false ? ack.error || {} : null;
        // Over the limit, or Redis failing over (store_unavailable): asked again, jittered.
        if (error && (error.code === 'rate_limited' || error.code === 'store_unavailable')) {
          const wait = Math.min(Math.max(Number(error.retry_after) || 1, 0.2) * 1000, MAX_HOLD_MS);
          setTimeout(() => requestSession(lastSeq), jittered(wait));
        }
      },
    );
  }

  function connect(io) {
    socket = io(SERVER.origin, { path: SERVER.base + '/socket.io', ...RECONNECT });

    socket.on('connect', () => {
      ready = false;
      setConnectionNote(false);
      requestSession(everConnected ? maxSeq : 0);
      everConnected = true;
    });

    socket.on('disconnect', (reason) => {
      ready = false;
      clearTimeout(historyWaitTimer);
      for (const p of pending.values()) {
        if (p.inFlight) {
          p.inFlight = false;
          p.attempt += 1; // the old ack will never come; resend after reconnect
        }
      }
      botTyping = false;
      agentTyping = null;
      renderTyping();
      setDraftWanted(false);
      setConnectionNote(true);
      if (reason === 'io server disconnect') setTimeout(() => socket.connect(), jittered(3000));
    });

    socket.on('connect_error', () => setConnectionNote(true));

    socket.on('session_confirm', (data) => {
      const sid = typeof data === 'string' ? data : data && typeof data.session_id === 'string' ? data.session_id : null;
      if (sid && sid !== sessionId && SESSION_ID_RE.test(sid)) adoptSession(sid);
      clearTimeout(historyWaitTimer);
      historyWaitTimer = setTimeout(onSessionReady, HISTORY_WAIT_MS);
    });

    // frontdesk's servers: the token that resumes this conversation (after a reload, too).
    socket.on('session_token', (data) => {
      if (!data || typeof data.token !== 'string' || data.session_id !== sessionId) return;
      isFrontdeskServer = true;
      resumeToken = data.token;
      store.set(KEY_TOKEN, data.token);
    });

    socket.on('history', (data) => {
      isFrontdeskServer = true;
      const msgs = data && Array.isArray(data.messages) ? data.messages.slice() : [];
      msgs.sort((a, b) => (toSeq(a && a.seq) || 0) - (toSeq(b && b.seq) || 0));
      for (const m of msgs) {
        if (!m || typeof m !== 'object') continue;
        ingest(
          {
            seq: m.seq,
            ts: m.ts,
            role: m.role,
            text: m.text,
            quick_replies: m.quick_replies,
            attachment: m.attachment,
            file: m.file,
            sender: m.sender,
            client_msg_id: m.client_msg_id,
            answer_id: typeof m.answer_id === 'string' ? m.answer_id : null,
            rating: m.rating,
          },
          { history: true }
        );
      }
      if (data && data.greeting && typeof data.greeting === 'object') showGreeting(data.greeting);
      onSessionReady();
    });

    socket.on('bot_uttered', (data) => {
      if (!data || typeof data !== 'object') return;
      const kind = data.sender && typeof data.sender === 'object' ? data.sender.kind : null;
      const role = kind === 'agent' || kind === 'system' ? kind : 'bot';
      if (role === 'agent') agentTyping = null;
      else botTyping = false;
      renderTyping();
      ingest({
        seq: data.seq,
        ts: data.ts,
        role,
        text: data.text,
        quick_replies: data.quick_replies || data.buttons,
        attachment: data.attachment,
        file: data.file,
        sender: data.sender,
        answer_id: typeof data.answer_id === 'string' ? data.answer_id : null,
      });
    });

    socket.on('user_echo', (data) => {
      if (!data || typeof data !== 'object') return;
      ingest({ seq: data.seq, ts: data.ts, role: 'customer', text: data.text, file: data.file, client_msg_id: data.client_msg_id });
    });

    socket.on('bot_typing', (data) => {
      botTyping = !!(data && data.typing);
      // "Show the work": what the assistant is doing, e.g. "Looking up order 1042…".
      botActivity = botTyping && data.activity ? String(data.activity) : '';
      renderTyping();
    });

    socket.on('agent_typing', (data) => {
      agentTyping = data && data.typing ? { name: data.name ? String(data.name).trim() : '' } : null;
      renderTyping();
    });

    // "Maria joined" / "Maria has closed this conversation" arrive as messages of the
    // transcript (they survive a reload); these events only update who is typing.
    socket.on('agent_joined', () => {
      agentTyping = null;
      renderTyping();
    });

    socket.on('agent_left', (data) => {
      agentTyping = null;
      renderTyping();
      setDraftWanted(false);
      if (data && data.transcript && typeof data.transcript === 'object') showTranscriptOffer(data.transcript);
    });

    // The customer's place in line, with its actions ("Leave a message", "Cancel request"):
    // they stay in view while the customer waits, whatever else is said meanwhile.
    socket.on('queue_status', (data) => {
      const text = data && !data.cleared && data.text ? String(data.text) : '';
      queueEl.textContent = '';
      queueEl.hidden = !text;
      if (!text) return;
      queueEl.append(h('p', 'fd-queue-text', null, text));
      const actions = Array.isArray(data.actions) ? data.actions : [];
      const row = h('div', 'fd-queue-actions');
      for (const action of actions) {
        if (!action || typeof action.title !== 'string' || typeof action.payload !== 'string') continue;
        const button = h('button', 'fd-queue-action', { type: 'button' }, action.title);
        button.addEventListener('click', () => sendMessage(action.payload, action.title));
        row.append(button);
      }
      if (row.childElementCount) queueEl.append(row);
    });

    socket.on('widget_config', (data) => {
      if (!data || typeof data !== 'object') return;
      isFrontdeskServer = true;
      if ('status_text' in data) {
        statusEl.textContent = data.status_text ? String(data.status_text) : '';
      }
      if (typeof data.title === 'string' && data.title) serverTitle = data.title;
      if (data.files && typeof data.files === 'object' && Array.isArray(data.files.types)) {
        filesConfig = data.files;
        fileInput.setAttribute('accept', data.files.types.join(','));
        attachBtn.hidden = false;
      }
      if (data.prechat && typeof data.prechat === 'object') {
        prechatConfig = data.prechat;
        const started = list.querySelector('.fd-msg-customer') || pending.size > 0;
        if (prechatConfig.before_first_message && !started && !prechatDone()) showPrechat(prechatConfig, true);
      }
      // The page's explicit data-language wins, unless the customer writes in another
      // language (`detected`); otherwise follow the server's conversation language.
      if ((!explicitLanguage || data.detected) && typeof data.language === 'string' && data.language) {
        language = data.language;
        uiLang = uiLangFor(data.language);
      }
      applyStrings();
    });

    // A person was asked for and the pre-chat form is on: who are we helping?
    socket.on('prechat_request', (data) => {
      if (data && typeof data === 'object' && Array.isArray(data.fields)) showPrechat(data, false);
    });

    socket.on('frontdesk_error', (data) => {
      isFrontdeskServer = true;
      if (data && data.code === 'rate_limited') return; // the ack says it: the message is kept
      // Not saved, to be sent again by itself (the ack says so): kept, not marked failed.
      if (data && data.code === 'store_unavailable' && data.retry_after && data.client_msg_id) return;
      const message = data && data.message ? String(data.message) : t('failed');
      showError(message);
      if (data && typeof data.client_msg_id === 'string') markFailedById(data.client_msg_id, message);
    });
  }

  // ---------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------

  function init() {
    buildUi();
    loadStylesheet().then(() => {
      root.style.visibility = '';
    });
    const remembered = panelState.get(); // open or closed before a reload: kept as it was
    if (remembered === 'open' || (remembered === null && (pageConfig.open === true || location.hash === '#chat'))) {
      setOpen(true, { focus: false });
    }
    window.addEventListener('hashchange', () => {
      if (location.hash === '#chat') setOpen(true);
    });
    loadSocketIo()
      .then(connect)
      .catch(() => showError(t('unavailable')));

    window.frontdeskWidget = {
      open: () => setOpen(true),
      close: () => setOpen(false),
      toggle: () => setOpen(!isOpen),
      send: (text) => sendMessage(text),
      get sessionId() {
        return sessionId;
      },
    };
  }

  if (document.body) init();
  else document.addEventListener('DOMContentLoaded', init, { once: true });
})();
