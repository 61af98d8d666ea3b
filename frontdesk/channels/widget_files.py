"""The widget's photos and files, and its pre-chat form: what WidgetChannel delegates here.

- Upload: `POST /widget/upload` (frontdesk.files.web) by the conversation's owner (its resume
  token), answering an attachment id; then `user_uttered {attachment_id, message?,
  client_msg_id?}` sends it (the message is an optional caption).
- Out: frontdesk's widget gets `file: {id, name, type, size, url}` on messages (a signed,
  expiring link, made as the message is sent); stock Rasa clients get Rasa's own image
  attachment for a photo, and the link in the text for a PDF (absolute, from PUBLIC_URL).
- `prechat {name, email}`: the pre-chat form's answers (frontdesk.core.prechat).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from frontdesk.channels.resume import ISSUED, SHOPPER, SessionAccess
from frontdesk.channels.widget_input import CLIENT_MSG_ID, valid_text
from frontdesk.core.messages import Inbound
from frontdesk.core.prechat import Prechat
from frontdesk.core.templates import Templates
from frontdesk.errors import BadInput
from frontdesk.files.storage import FileLinks, FileStore
from frontdesk.files.web import cors_headers, describe, read_upload, refusal_status, store_upload
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

CHANNEL = "widget"


class WidgetFiles:
    def __init__(
        self,
        files: FileStore,
        links: FileLinks,
        prechat: Prechat | None,
        cors_origins: tuple[str, ...],
    ) -> None:
        self.files = files
        self.links = links
        self.prechat = prechat
        self.cors_origins = cors_origins

    def config(self) -> dict[str, Any]:
        """widget_config.files: the size limit and the allowed types."""
        return describe(self.files.policy)

    # -- upload -------------------------------------------------------------------------------

    async def upload(
        self,
        request: web.Request,
        access: SessionAccess,
        store: Store,
        templates: Templates,
    ) -> web.Response:
        headers = cors_headers(request, self.cors_origins)
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=headers)
        upload = await read_upload(request, self.files.policy.max_bytes)
        session_id = upload.fields.get("session_id", "")
        token = upload.fields.get("token", "")
        owned = (ISSUED.match(session_id) or SHOPPER.match(session_id)) and access.token_valid(
            session_id, token
        )
        raw = await store.get_conversation(session_id) if owned else {}
        if not raw or raw.get("channel") != CHANNEL:
            log.info("widget upload refused: not the conversation's owner")
            message = templates.render(templates.default_language, "no_session")
            return _answer(403, {"code": "not_yours", "message": message}, headers)
        language = raw.get("language") or templates.default_language
        attachment, refused = await store_upload(self.files, upload, session_id)
        if refused is not None or attachment is None:
            code = refused.code if refused is not None else "file_empty"
            text = templates.render(language, code, **self.files.policy.describe())
            return _answer(refusal_status(code), {"code": code, "message": text}, headers)
        body = {"ok": True, "attachment": self.links.signed(attachment.public())}
        return web.json_response(body, headers=headers)

    # -- in: user_uttered with an attachment ------------------------------------------------------

    async def inbound(
        self, session_id: str, data: Mapping[str, Any], templates: Templates, language: str
    ) -> Inbound:
        found = await self.files.get(data.get("attachment_id"))
        if found is None or found.owner != session_id:
            raise BadInput("file_not_found", templates.render(language, "file_not_found"))
        caption = data.get("message")
        if caption is not None and (not isinstance(caption, str) or not valid_text(caption)):
            raise BadInput("bad_request", "message must be text (valid UTF-8)")
        client_msg_id = data.get("client_msg_id")
        if client_msg_id is not None and (
            not isinstance(client_msg_id, str) or not CLIENT_MSG_ID.match(client_msg_id)
        ):
            raise BadInput("bad_request", "client_msg_id must be 1-128 letters, digits or _.:-")
        said = (caption or "").strip()[:2000]
        return Inbound(
            session_id,
            CHANNEL,
            said or f"[{found.name}]",
            said,  # the bot reads the caption (it cannot look at the file)
            client_msg_id=client_msg_id,
            attachment=found.public(),
        )

    # -- out -------------------------------------------------------------------------------

    def signed(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        return self.links.sign_entry(entry)

    def plain(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """The entry as a stock Rasa client can show it: a photo as Rasa's image attachment,
        another file as a link in the text."""
        attachment = entry.get("attachment")
        if not isinstance(attachment, Mapping):
            return dict(entry)
        url = self.links.url(str(attachment.get("id")))
        if str(attachment.get("type", "")).startswith("image/"):
            return {**entry, "image": url}
        text = str(entry.get("text") or "")
        return {**entry, "text": f"{text}\n{attachment.get('name')}: {url}".strip()}

    # -- the pre-chat form ------------------------------------------------------------------------

    async def prechat_answers(self, session_id: str, data: Any) -> dict[str, Any]:
        if self.prechat is None or not self.prechat.config.enabled:
            raise BadInput("bad_request", "there is no pre-chat form")
        if not isinstance(data, dict):
            raise BadInput("bad_request", "prechat must be an object")
        if len(json.dumps(data, default=str)) > 2000:
            raise BadInput("bad_request", "prechat is too long")
        details = await self.prechat.submit(session_id, data)
        return {"ok": True, "details": details}


def _answer(status: int, error: dict[str, str], headers: Mapping[str, str]) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
