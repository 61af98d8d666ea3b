/* "Earlier conversations" with the same customer. */

import { E, append, clear, el } from './dom.js';
import { fmtDate, humanise, readable, str } from './format.js';

export function renderEarlier(c) {
  clear(E.earlier);
  c.earlier.forEach((x) => {
    if (!x || typeof x !== 'object') return;
    const li = el('li', 'fc-earlier-item');
    if (x.case_id !== undefined) li.setAttribute('data-case-id', str(x.case_id));
    const top = el('div', 'fc-earlier-top');
    append(top, el('span', 'fc-earlier-date', fmtDate(x.requested_at) || 'Unknown date'),
      el('span', 'fc-earlier-area', x.area ? humanise(x.area) : ''));
    if (x.csat !== null && x.csat !== undefined && x.csat !== '') {
      const csat = Number(x.csat);
      const badge = el('span', 'fc-csat' + (csat <= 2 ? ' is-low' : csat >= 4 ? ' is-high' : ''), 'CSAT ' + str(x.csat) + '/5');
      top.appendChild(badge);
    }
    li.appendChild(top);
    if (x.reason) li.appendChild(el('div', 'fc-earlier-reason', readable(x.reason)));
    if (x.summary) li.appendChild(el('div', 'fc-earlier-summary', str(x.summary)));
    if (Array.isArray(x.tags) && x.tags.length) {
      const tags = el('div', 'fc-earlier-tags');
      x.tags.forEach((t) => { tags.appendChild(el('span', 'fc-chip', str(t))); });
      li.appendChild(tags);
    }
    E.earlier.appendChild(li);
  });
  E.earlierEmpty.hidden = E.earlier.children.length > 0;
}
