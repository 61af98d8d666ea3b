/* "My conversations": the agent's cases, with unread counts and the typing hint. */

import { renderTitle } from './alerts.js';
import { E, append, clear, el } from './dom.js';
import { channelLabel, customerLabel, humanise } from './format.js';
import * as store from './state.js';

export function renderMyCases() {
  const openId = store.openId();
  clear(E.my);
  store.myCaseIds().forEach((caseId) => {
    const s = store.myCase(caseId);
    if (!s) return;
    const c = store.findCase(caseId);
    const li = el('li', 'fc-my-case' + (caseId === openId ? ' is-active' : '') + (s.unread ? ' has-unread' : ''));
    li.setAttribute('data-case-id', caseId);
    const btn = el('button', 'fc-my-case-open');
    btn.type = 'button';
    btn.setAttribute('data-case-id', caseId);
    if (caseId === openId) btn.setAttribute('aria-current', 'true');

    const top = el('span', 'fc-my-top');
    append(top, el('span', 'fc-my-customer', customerLabel(s.customer, c && c.card && c.card.customer_label)));
    if (c && c.typing) append(top, el('span', 'fc-my-typing', 'typing…'));
    if (s.unread) append(top, el('span', 'fc-unread', String(s.unread)));
    const email = s.kind === 'message' || (c && store.isMessageCase(c)) ? 'E-mail answer' : '';
    const meta = el('span', 'fc-my-meta',
      [email, channelLabel(s.channel), s.area ? humanise(s.area) : '', s.state ? humanise(s.state) : ''].filter(Boolean).join(' · '));
    append(btn, top, meta);
    li.appendChild(btn);
    E.my.appendChild(li);
  });
  // The count is of live chats against the capacity: left messages hold no slot.
  const live = store.liveCaseCount();
  const cap = store.me().capacity;
  E.myCount.textContent = cap ? live + ' / ' + cap : String(live);
  E.myCount.classList.toggle('is-full', cap > 0 && live >= cap);
  E.myCount.setAttribute('title', 'Live chats you have open' + (cap ? ', of ' + cap + ' at once' : '') + '. Messages you answer by e-mail do not count.');
  E.myEmpty.hidden = E.my.children.length > 0;
  renderTitle();
}

/** hooks.picked(caseId) runs when the agent clicks one of their conversations. */
export function initMyCases(hooks) {
  E.my.addEventListener('click', (ev) => {
    const btn = ev.target.closest('.fc-my-case-open');
    if (!btn) return;
    hooks.picked(btn.getAttribute('data-case-id'));
  });
}
