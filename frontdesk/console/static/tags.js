/* "Why did they contact us?": the tags of the open case. */

import { E, append, clear, el } from './dom.js';
import { ACTIONS } from './events.js';
import { showError } from './notify.js';
import { call } from './socket.js';
import * as store from './state.js';

export function renderTags(c) {
  const legend = E.tags.querySelector('legend');
  clear(E.tags);
  if (legend) E.tags.appendChild(legend);
  const chosen = c.tags || [];
  const all = store.tagChoices().slice();
  chosen.forEach((t) => { if (all.indexOf(t) < 0) all.push(t); });
  all.forEach((tag) => {
    const label = el('label', 'fc-tag');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.name = 'tag';
    box.value = tag;
    box.checked = chosen.indexOf(tag) >= 0;
    append(label, box, el('span', 'fc-tag-label', tag));
    E.tags.appendChild(label);
  });
  if (!all.length) E.tags.appendChild(el('p', 'fc-empty', 'No tags configured.'));
  E.tagsStatus.textContent = c.tagsDirty ? 'Unsaved changes' : '';
  E.tagsStatus.className = 'fc-tags-status' + (c.tagsDirty ? ' is-dirty' : '');
}

function checkedTags() {
  return Array.prototype.map.call(E.tags.querySelectorAll('input[type=checkbox]:checked'), (b) => b.value);
}

export function initTags() {
  E.tags.addEventListener('change', () => {
    const c = store.openCaseModel();
    if (!c) return;
    store.setCaseTags(c, checkedTags(), true);
    E.tagsStatus.textContent = 'Unsaved changes';
    E.tagsStatus.className = 'fc-tags-status is-dirty';
  });
  E.tagsSave.addEventListener('click', () => {
    const caseId = store.openId();
    if (!caseId) return;
    const c = store.caseModel(caseId);
    const tags = checkedTags();
    E.tagsSave.disabled = true;
    call(ACTIONS.TAGS, { case_id: caseId, tags: tags }).then(() => {
      store.setCaseTags(c, tags, false);
      if (store.openId() === caseId) {
        E.tagsStatus.textContent = 'Saved';
        E.tagsStatus.className = 'fc-tags-status is-saved';
      }
    }, (err) => {
      showError(err, 'Tags not saved.');
    }).then(() => { E.tagsSave.disabled = false; });
  });
}
