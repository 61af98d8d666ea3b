/*
 * The console's protocol with the gateway: the ONE description of every Socket.IO event the
 * console receives on the namespace /agent, and of every action it emits with the shape of its
 * acknowledgement. Other modules import the frozen name objects below and never spell an event
 * name themselves.
 *
 * Server side: frontdesk/console/namespace.py (events and actions), frontdesk/core/agentdesk.py
 * (queue items, my cases, agents, case views) and frontdesk/core/casecard.py (card, queue item,
 * earlier item, customer_label()).
 *
 * Payloads are untrusted: checkPayload() says whether one has the shape a handler relies on; the
 * socket module logs and ignores any that does not, so an unexpected shape never throws.
 */

/** The Socket.IO namespace of the console. */
export const NAMESPACE = '/agent';

// ---------------------------------------------------------------- shared shapes

/**
 * An agent as hello describes the one logged in.
 * @typedef {Object} Me
 * @property {string} name            login name (unique)
 * @property {string} display_name    what customers and colleagues see
 * @property {number} capacity        how many conversations at once
 * @property {'available'|'away'} status
 */

/**
 * One agent in the team overview (hello.agents, agents.items): the transfer list.
 * @typedef {Object} AgentItem
 * @property {string} name
 * @property {string} display_name
 * @property {number} capacity
 * @property {'available'|'away'|'offline'} status   offline: no console connected
 * @property {number} load            conversations the agent holds now
 */

/**
 * A canned reply the agent can insert (hello.canned); its text comes from the `canned` action.
 * @typedef {Object} CannedItem
 * @property {string} key
 * @property {string} title
 */

/**
 * A customer waiting in the queue (queue.items), from casecard.queue_item().
 * @typedef {Object} QueueItem
 * @property {string} case_id
 * @property {string} conversation_id
 * @property {number} requested_at    unix seconds
 * @property {number} waited_seconds  at the server's "now" (the console derives its clock skew)
 * @property {?string} area
 * @property {?string} intent
 * @property {?string} language
 * @property {?string} channel        widget | telegram | messenger | ...
 * @property {?string} reason         detail, else reason code
 * @property {?string} summary
 * @property {string} customer        display label from customer_label(): name, else e-mail,
 *                                    else channel user, else "Visitor xxxxxx"
 * @property {?SlaView} sla          its service-level targets (null: none on the case)
 * @property {'live'} [kind]          the live queue holds live chats only; an item of kind
 *                                    "message" (from an older server) is not shown in it
 */

/**
 * Where the e-mail answering a left message stands, from casecard.mail_status().
 * @typedef {Object} MailStatus
 * @property {'queued'|'sent'|'retrying'|'failed'} state   retrying: a try failed and another is
 *                                    scheduled; failed: refused for good (5xx) until retried
 * @property {string} to              the customer's e-mail address
 * @property {string} error           the last failure, as the SMTP server or network said it
 * @property {number} attempts        tries so far
 * @property {?number} next_attempt_at   unix seconds (retrying only)
 * @property {?number} sent_at        unix seconds (sent only)
 */

/**
 * One entry of the offline inbox (messages.items), from casecard.message_item(): a message left
 * outside hours (or with nobody online) waiting for an answer by e-mail, or — with `mail` set —
 * an answer whose e-mail is not delivered yet. Has every field of a QueueItem, plus:
 * @typedef {Object} MessageItem
 * @property {'message'} kind
 * @property {string} email           where the answer goes
 * @property {string} message         what the customer wrote (the first 300 characters)
 * @property {?string} promised_reply_by   the promise the customer was given ("11:00")
 * @property {?number} promised_reply_at   the same, unix seconds: the list is sorted by it
 * @property {boolean} overdue        the promise has passed (at the server's "now")
 * @property {?number} left_at        unix seconds
 * @property {?string} state          queued (waiting) | closed (answered, e-mail undelivered)
 * @property {?string} agent          who answered (mail items)
 * @property {?MailStatus} mail       set once answered; listed until the e-mail is delivered
 */

/**
 * One of the agent's own conversations (my_cases.items).
 * @typedef {Object} MyCaseItem
 * @property {string} case_id
 * @property {string} customer        display label from customer_label() (as QueueItem.customer)
 * @property {?string} channel
 * @property {?string} area
 * @property {?string} state          agent | queued | closed | ...
 * @property {number} [unread]        optional; the console keeps its own count when absent
 */

/**
 * A button the bot offered.
 * @typedef {Object} QuickReply
 * @property {string} title
 * @property {string} payload
 */

/**
 * One transcript entry (case_message.entry, CaseView.transcript).
 * @typedef {Object} TranscriptEntry
 * @property {number} seq             position in the conversation (deduplicates copies)
 * @property {number} ts              unix seconds
 * @property {'customer'|'bot'|'agent'|'system'} role   anything else is shown as system
 * @property {string} text
 * @property {string} [sender_name]   the agent's display name
 * @property {Array<QuickReply|string>} [quick_replies]
 * @property {FileRef} [attachment]   a photo or file sent with the message
 */

/**
 * A photo or file (customer's or agent's). `url` is a signed link that expires
 * (ATTACHMENT_LINK_TTL); it is made when the entry is sent, so reopening a case renews it.
 * @typedef {Object} FileRef
 * @property {string} id
 * @property {string} name
 * @property {string} type    image/png, image/jpeg, image/gif, image/webp or application/pdf
 * @property {number} size    bytes
 * @property {string} url     /files/<id>?exp=…&sig=…
 * @property {number} [seq]   (card.attachments) the message it came with
 */

/**
 * A private note on a case.
 * @typedef {Object} Note
 * @property {number} ts
 * @property {string} agent           login name
 * @property {string} [agent_display_name]
 * @property {string} text
 */

/**
 * An earlier case of the same customer (CaseView.earlier), from casecard.earlier_item().
 * @typedef {Object} EarlierItem
 * @property {string} case_id
 * @property {?number} requested_at
 * @property {?number} closed_at
 * @property {?string} area
 * @property {?string} reason
 * @property {?string} summary
 * @property {string[]} tags
 * @property {?(string|number)} csat  1..5
 * @property {?string} state
 * @property {?string} agent
 */

/**
 * The case card, from casecard.card().
 * @typedef {Object} CaseCard
 * @property {string} case_id
 * @property {string} conversation_id
 * @property {?string} state
 * @property {?string} reason
 * @property {?string} reason_detail
 * @property {?string} summary
 * @property {?string} area
 * @property {?string} intent
 * @property {?number} confidence     0..1
 * @property {Object<string, *>} captured   order_number, email, product, ...
 * @property {string[]} bot_answers
 * @property {?string} language
 * @property {?string} channel
 * @property {?string} channel_user
 * @property {?string} page_url
 * @property {{name?: string, email?: string, id?: string}} customer   the known details
 * @property {string} customer_label  display label from customer_label()
 * @property {number} requested_at
 * @property {?number} joined_at
 * @property {number} waited_seconds
 * @property {?string} agent          login name of the holder
 * @property {string[]} tags
 * @property {'live'|'message'} kind message: a left message, answered by e-mail (not a chat)
 * @property {?{email: string, message: string, promised_reply_by: string,
 *             promised_reply_at: ?number}} left_message   set for kind "message"
 * @property {?MailStatus} mail       the e-mail answer's status, once answered
 * @property {FileRef[]} attachments  the customer's photos and files on this topic
 * @property {?SlaView} sla          its service-level targets (null: none on the case)
 */

/**
 * One service-level target of a case (flows/sla.yml), from core/sla.py.
 * @typedef {Object} SlaTarget
 * @property {number} due_at          unix seconds
 * @property {number} target_seconds  the target, in opening time
 * @property {?number} left_seconds   opening time left at SlaView.now (< 0: over by that much);
 *                                    null once met, missed or stopped
 * @property {'ok'|'at_risk'|'breached'|'met'|'missed'|'stopped'} state   stopped: the customer
 *                                    went before anyone answered, in time
 * @property {?number} done_at        when it was reached (first reply, or the close)
 */

/**
 * Where a case stands against its targets; the console counts `left_seconds` down by itself
 * (console/static/sla.js): opening time passes only while open.
 * @typedef {Object} SlaView
 * @property {?SlaTarget} first_response   a left message: the reply time it was promised
 * @property {?SlaTarget} resolution       live chats only
 * @property {number} at_risk_below   at risk under this share of the target left (0.25)
 * @property {number} now             the server's clock when this was computed
 * @property {?number} open_until     open now, until then (null: closed now, or always open)
 * @property {?number} opens_at       closed now: opening time resumes then
 */

/**
 * Everything about one case: the answer of claim and open_case, and the payload of
 * case_assigned and case_updated.
 * @typedef {Object} CaseView
 * @property {CaseCard} card
 * @property {TranscriptEntry[]} transcript   this handoff's part of the conversation
 * @property {EarlierItem[]} earlier
 * @property {Note[]} notes
 * @property {string[]} tags
 * @property {?boolean} [customer_online]   the customer has a page with the chat open; null
 *                                    when the server cannot tell (several gateway processes)
 * @property {?{name: string, display_name: string}} [holder]   who has the case now (null:
 *                                    waiting or ended); only the holder acts on it, another
 *                                    agent takes it over first (take_over)
 */

// ---------------------------------------------------------------- events the console receives

/**
 * @typedef {Object} HelloPayload      sent once per connection, first
 * @property {Me} agent
 * @property {CannedItem[]} canned
 * @property {string[]} tags          the tags an agent may choose (flows/tags.yml)
 * @property {AgentItem[]} agents
 * @property {boolean} [mail_enabled] left messages can be answered by e-mail (SMTP is set up)
 */
/** @typedef {{items: QueueItem[]}} QueuePayload            the whole queue, on every change */
/**
 * The whole offline inbox, on every change (answers whose e-mail is undelivered first, then
 * the waiting messages by promised reply time).
 * @typedef {{items: MessageItem[], mail_enabled: boolean}} MessagesPayload
 */
/**
 * An e-mail answer was queued, sent, or a try failed (to every agent: anyone may retry it).
 * @typedef {{case_id: string, state: string, error: string, attempts: number,
 *            next_attempt_at: ?number}} MailStatusPayload
 */
/**
 * The customer opened, or closed the last, page with the chat.
 * @typedef {{case_id: string, conversation_id: string, online: boolean}} CustomerPresencePayload
 */
/** @typedef {{items: MyCaseItem[]}} MyCasesPayload         all of the agent's cases */
/** @typedef {{items: AgentItem[]}} AgentsPayload           the whole team, on every change */
/** @typedef {{case: CaseView}} CaseAssignedPayload         a case became the agent's */
/**
 * A new entry of a case (a customer's message; a colleague's or another tab's reply). One that
 * can be lost on its way: an entry whose seq is more than one past the highest the console holds
 * for a loaded case makes it fetch the case again (open_case) for what it missed (catchup.js).
 * @typedef {{case_id: string, entry: TranscriptEntry}} CaseMessagePayload
 */
/**
 * The customer of one of the agent's cases is typing (or stopped). `draft`: what they have typed
 * so far (frontdesk's widget, while flows/handoff.yml show_customer_draft is on; sent to the agent
 * who has the case only, never stored; "" when they stopped or cleared it).
 * @typedef {{case_id: string, typing: boolean, draft?: string}} CustomerTypingPayload
 */
/**
 * An agent on a case: a console that has it open (viewing action), typing or not.
 * @typedef {{name: string, display_name: string, typing: boolean}} CaseViewer
 */
/**
 * Every agent on a case the console views (itself included), on every change: sent to the
 * case's room (every console viewing it, on every gateway process).
 * @typedef {{case_id: string, viewers: CaseViewer[]}} CaseViewersPayload
 */
/**
 * Who has a case the console views now (claimed, taken over, transferred, closed).
 * @typedef {{case_id: string, holder: ?{name: string, display_name: string},
 *            state: ?string}} CaseHolderPayload
 */
/**
 * Another agent took over one of our cases (take_over): it is no longer ours.
 * @typedef {{case_id: string, by: ?{name: string, display_name: string}}} CaseTakenOverPayload
 */
/** @typedef {{case_id: string}} CaseClosedPayload          ended, or no longer the agent's */
/** @typedef {{case: CaseView}} CaseUpdatedPayload          the case's card or side data changed */
/**
 * A service-level target passed with nothing done: to leads' and admins' consoles only, once
 * per case and target (whichever gateway process saw it first).
 * @typedef {{case_id: string, conversation_id: string, target: 'first_response'|'resolution',
 *            due_at: number, agent: ?string, agent_name: ?string, customer: string,
 *            area: ?string, channel: ?string, kind: string}} SlaBreachPayload
 */

/** Names of the events the server sends on /agent. */
export const SERVER_EVENTS = Object.freeze({
  /** Payload: {@link HelloPayload}. */
  HELLO: 'hello',
  /** Payload: {@link QueuePayload}. */
  QUEUE: 'queue',
  /** Payload: {@link MyCasesPayload}. */
  MY_CASES: 'my_cases',
  /** Payload: {@link AgentsPayload}. */
  AGENTS: 'agents',
  /** Payload: {@link CaseAssignedPayload}. */
  CASE_ASSIGNED: 'case_assigned',
  /** Payload: {@link CaseMessagePayload}. */
  CASE_MESSAGE: 'case_message',
  /** Payload: {@link CustomerTypingPayload}. */
  CUSTOMER_TYPING: 'customer_typing',
  /** Payload: {@link CaseClosedPayload}. */
  CASE_CLOSED: 'case_closed',
  /** Payload: {@link CaseUpdatedPayload}. */
  CASE_UPDATED: 'case_updated',
  /** Payload: {@link MessagesPayload}. */
  MESSAGES: 'messages',
  /** Payload: {@link MailStatusPayload}. */
  MAIL_STATUS: 'mail_status',
  /** Payload: {@link SlaBreachPayload}. */
  SLA_BREACH: 'sla_breach',
  /** Payload: {@link CustomerPresencePayload}. */
  CUSTOMER_PRESENCE: 'customer_presence',
  /** Payload: {@link CaseViewersPayload}. */
  CASE_VIEWERS: 'case_viewers',
  /** Payload: {@link CaseHolderPayload}. */
  CASE_HOLDER: 'case_holder',
  /** Payload: {@link CaseTakenOverPayload}. */
  CASE_TAKEN_OVER: 'case_taken_over'
});

// ---------------------------------------------------------------- actions the console emits

/*
 * Every action but typing is emitted with an acknowledgement. The server answers
 *   {ok: true, ...result}                              on success, or
 *   {ok: false, error: {code: string, message: string}} (AckError) on failure,
 * e.g. code at_capacity, already_taken, not_yours, unknown_case, bad_request, store_unavailable.
 * The console gives up after its ack timeout (code "timeout").
 *
 * action      request                                      result (besides ok: true)
 * presence    {status: 'available'|'away'}                 {}
 * claim       {case_id}                                    {case: CaseView}
 * open_case   {case_id}                                    {case: CaseView}
 * reply       {case_id, text, client_msg_id,                {seq: number, attachment?: FileRef}
 *              attachment_id?}                             (attachment_id: from POST
 *                                                          /console/upload, X-CSRF-Token
 *                                                          header; text may then be empty)
 * note        {case_id, text}                              {note: Note}
 * typing      {case_id, typing: boolean}                   (emitted without waiting for an ack)
 * canned      {case_id, key}                               {text: string}
 * tags        {case_id, tags: string[]}                    {tags: string[]}   (sorted, unique)
 * transfer    {case_id, to: string}                        {}                 (to: agent name)
 * close       {case_id}                                    {}                 (a left message:
 *                                                          closed without an e-mail, no survey)
 * answer_message {case_id, text}                           {mail: MailStatus, seq: ?number}
 *                                                          (a left message the agent holds:
 *                                                          e-mailed, stored at seq, closed)
 * retry_mail  {case_id}                                    {mail: MailStatus} (try an undelivered
 *                                                          answer again now)
 * viewing     {case_id: ?string}                           {viewers: CaseViewer[]} (the case this
 *                                                          console has open, or null; repeated
 *                                                          every 25 s while open, else the view
 *                                                          lapses after 75 s)
 * take_over   {case_id}                                    {case: CaseView}   (a case another
 *                                                          agent has becomes ours; the customer
 *                                                          is told; code at_capacity, not_held,
 *                                                          already_yours, already_taken)
 */

/**
 * @typedef {Object} AckError
 * @property {false} ok
 * @property {{code: string, message: string}} error
 */
/** @typedef {{ok: true}} PresenceAck */
/** @typedef {{ok: true, case: CaseView}} ClaimAck */
/** @typedef {{ok: true, case: CaseView}} OpenCaseAck */
/** @typedef {{ok: true, seq: number}} ReplyAck */
/** @typedef {{ok: true, note: Note}} NoteAck */
/** @typedef {{ok: true, text: string}} CannedAck */
/** @typedef {{ok: true, tags: string[]}} TagsAck */
/** @typedef {{ok: true}} TransferAck */
/** @typedef {{ok: true}} CloseAck */
/** @typedef {{ok: true, mail: MailStatus, seq: ?number}} AnswerMessageAck */
/** @typedef {{ok: true, mail: MailStatus}} RetryMailAck */
/** @typedef {{ok: true, viewers: CaseViewer[]}} ViewingAck */
/** @typedef {{ok: true, case: CaseView}} TakeOverAck */

/** Names of the actions the console emits on /agent (see the table above). */
export const ACTIONS = Object.freeze({
  PRESENCE: 'presence',
  CLAIM: 'claim',
  OPEN_CASE: 'open_case',
  REPLY: 'reply',
  NOTE: 'note',
  TYPING: 'typing',
  CANNED: 'canned',
  TAGS: 'tags',
  TRANSFER: 'transfer',
  CLOSE: 'close',
  ANSWER_MESSAGE: 'answer_message',
  RETRY_MAIL: 'retry_mail',
  VIEWING: 'viewing',
  TAKE_OVER: 'take_over'
});

/** Socket.IO's own connection events (client side). */
export const SOCKET_EVENTS = Object.freeze({
  CONNECT: 'connect',
  DISCONNECT: 'disconnect',
  CONNECT_ERROR: 'connect_error'
});

/** The disconnect reason when the server ended the session (it will not reconnect). */
export const SERVER_DISCONNECT_REASON = 'io server disconnect';

// ---------------------------------------------------------------- payload checks

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function isId(v) {
  return (typeof v === 'string' && v !== '') || (typeof v === 'number' && isFinite(v));
}
function hasItems(d) {
  return isObject(d) && Array.isArray(d.items);
}
/** A case view, or (as older servers sent) the card or case itself. */
function isCaseLike(v) {
  return isObject(v) && (isObject(v.card) ? isId(v.card.case_id) || isId(v.case_id) : isId(v.case_id));
}

/**
 * What each handler relies on. Fields inside are still read defensively (items that are not
 * objects are skipped, missing texts are shown as empty), so these checks stay shallow.
 */
const CHECKS = Object.freeze({
  [SERVER_EVENTS.HELLO]: isObject,
  [SERVER_EVENTS.QUEUE]: hasItems,
  [SERVER_EVENTS.MY_CASES]: hasItems,
  [SERVER_EVENTS.AGENTS]: hasItems,
  [SERVER_EVENTS.CASE_ASSIGNED]: (d) => isObject(d) && (isCaseLike(d.case) || (d.case === undefined && isCaseLike(d))),
  [SERVER_EVENTS.CASE_MESSAGE]: (d) => isObject(d) && isId(d.case_id) && isObject(d.entry),
  [SERVER_EVENTS.CUSTOMER_TYPING]: (d) => isObject(d) && isId(d.case_id),
  [SERVER_EVENTS.CASE_CLOSED]: (d) => isObject(d) && isId(d.case_id),
  [SERVER_EVENTS.CASE_UPDATED]: (d) => isObject(d) && isObject(d.case) && isObject(d.case.card) && isId(d.case.card.case_id),
  [SERVER_EVENTS.MESSAGES]: hasItems,
  [SERVER_EVENTS.MAIL_STATUS]: (d) => isObject(d) && isId(d.case_id) && typeof d.state === 'string',
  [SERVER_EVENTS.SLA_BREACH]: (d) => isObject(d) && isId(d.case_id) && typeof d.target === 'string',
  [SERVER_EVENTS.CUSTOMER_PRESENCE]: (d) => isObject(d) && isId(d.case_id) && typeof d.online === 'boolean',
  [SERVER_EVENTS.CASE_VIEWERS]: (d) => isObject(d) && isId(d.case_id) && Array.isArray(d.viewers),
  [SERVER_EVENTS.CASE_HOLDER]: (d) => isObject(d) && isId(d.case_id) && (d.holder === null || isObject(d.holder)),
  [SERVER_EVENTS.CASE_TAKEN_OVER]: (d) => isObject(d) && isId(d.case_id)
});

/** True when `data` has the shape the handler of `event` relies on (see the typedefs above). */
export function checkPayload(event, data) {
  const check = CHECKS[event];
  return typeof check === 'function' && check(data);
}

/** True for a name in ACTIONS. */
export function isAction(name) {
  return Object.values(ACTIONS).indexOf(name) >= 0;
}
