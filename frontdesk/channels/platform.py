"""What every messaging-platform channel (Telegram, Messenger, the next one) has in common.

A subclass supplies only what is the platform's own:

- `authenticate(request, body)` and `parse(raw)`: check a webhook call, read its body into items;
- `process(item)`: one item stored through `open` and `take` (or `keep_unread`);
- `send(user, outgoing)`: one transcript entry on the platform; `show_typing(user, active)`.

An item counts as handled once the customer's message is stored: the webhook answers only then,
and answers 503 when the store is unavailable, so the platform delivers the body again. A repeated
delivery is stored once, and answered once, because every item carries the platform's message id
as the transcript's client_msg_id, which the router stores once per conversation."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from aiohttp import web

from frontdesk.channels.common import BackgroundTasks, lone_surrogate, split_text
from frontdesk.channels.http import ApiError
from frontdesk.core.messages import Inbound, QuickReply
from frontdesk.core.outbox import Outbox
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.errors import BadInput, StoreUnavailable
from frontdesk.files.storage import Attachment, FileLinks, FileRefused, FileStore
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Kind = Literal["text", "unsupported", "edit"]


@dataclass(frozen=True)
class Outgoing:
    """A transcript entry as a platform sends it: text parts within the platform's limit (the
    quick replies belong under the last), then the image."""

    parts: tuple[str, ...]
    quick_replies: tuple[QuickReply, ...] = ()
    image: str | None = None
    file: Attachment | None = None  # a photo or file an agent sent (after the text)


class PlatformChannel(ABC, Generic[Item]):
    """Webhook in, stored Inbound messages to the router; transcript entries out."""

    channel: ClassVar[str]  # the Outbox's channel name and the conversation id prefix
    title: ClassVar[str]  # the platform's name in logs
    max_text: ClassVar[int]  # longest text message, in UTF-16 units
    received: ClassVar[str] = "ok"  # the webhook's answer once everything is stored
    files: FileStore | None = None  # photos and files (set by the app; None: not kept)
    links: FileLinks | None = None

    def __init__(
        self,
        router: Router,
        outbox: Outbox,
        store: Store,
        templates: Templates,
        max_message_length: int,
    ) -> None:
        self.router = router
        self.outbox = outbox
        self.store = store
        self.templates = templates
        self.max_message_length = max_message_length
        self.tasks = BackgroundTasks(self.channel)

    def conversation_id(self, user: str) -> str:
        return f"{self.channel}:{user}"

    def user_of(self, conversation_id: str) -> str:
        return conversation_id.removeprefix(f"{self.channel}:")

    # -- inbound ----------------------------------------------------------------------------

    @abstractmethod
    def authenticate(self, request: web.Request, body: bytes) -> None:
        """Raise HTTPForbidden (and log why) unless the call comes from the platform."""

    @abstractmethod
    def parse(self, raw: Any) -> Sequence[Item]:
        """The items in a webhook body, in order; BadInput if it is not the platform's shape."""

    @abstractmethod
    async def process(self, item: Item) -> None:
        """Store one item (StoreUnavailable if it could not be); a repeated item changes nothing."""

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /channels/<platform>: authenticate, store every item, then answer."""
        body = await request.read()
        self.authenticate(request, body)
        try:
            raw = json.loads(body)
        except (ValueError, RecursionError) as exc:  # not JSON, or nested beyond reason
            # The text, not the exception: a record kept for a while keeps no body alive.
            log.warning("refused a %s webhook body that is not JSON: %s", self.title, str(exc))
            raise web.HTTPBadRequest(text="the body must be JSON") from None
        if lone_surrogate(body, raw):
            log.warning("refused a %s webhook body with a lone surrogate in its text", self.title)
            raise web.HTTPBadRequest(text="the body's text must be valid Unicode")
        try:
            items = self.parse(raw)
        except BadInput as exc:
            log.warning("refused a %s webhook body: %s", self.title, exc.message)
            raise web.HTTPBadRequest(text=exc.message) from None
        try:
            for item in items:  # in order: one body may hold several messages of one person
                await self.process(item)
        except StoreUnavailable as exc:
            log.error("%s webhook not stored, the platform will retry: %s", self.title, exc)
            raise web.HTTPServiceUnavailable(text="storage unavailable; try again") from None
        return web.Response(text=self.received)

    async def open(self, user: str, language: str, details: Mapping[str, str]) -> tuple[str, str]:
        """The customer's conversation (created on first contact) and its language."""
        conv = self.conversation_id(user)
        conversation = await self.router.open_conversation(conv, self.channel, language, details)
        return conv, conversation.language

    async def take(
        self, conv: str, language: str, kind: Kind, text: str, payload: str, msg_id: str
    ) -> None:
        """Store what the customer sent: text goes on to the router; what the bot cannot read
        (too long, an edit, a sticker…) is kept with a reply saying why."""
        if kind == "text" and len(text) > self.max_message_length:
            limit = self.max_message_length
            reply = self.templates.render(
                language, "message_too_long", length=len(text), limit=limit
            )
            await self.keep_unread(conv, text, msg_id, reply)
        elif kind == "text":
            await self.router.accept(Inbound(conv, self.channel, text, payload, msg_id))
        else:
            key = "edited_message" if kind == "edit" else "unsupported_message"
            await self.keep_unread(conv, text, msg_id, self.templates.render(language, key))

    async def take_file(
        self,
        conv: str,
        language: str,
        text: str,
        msg_id: str,
        name: str,
        fetch: Callable[[int], Awaitable[bytes]],
        size: int | None = None,
        caption: str = "",
    ) -> None:
        """A photo or file: downloaded (`fetch(limit)`), checked and kept, then routed like
        a message (frontdesk.core.customer_files; the bot reads its caption); refused or
        failed ones are kept as text with a reply saying why."""
        if self.files is None:
            reply = self.templates.render(language, "unsupported_message")
            await self.keep_unread(conv, text, msg_id, reply)
            return
        policy = self.files.policy
        try:
            if size is not None and size > policy.max_bytes:
                raise FileRefused("file_too_large", f"{size} bytes")
            attachment = await self.files.save(await fetch(policy.max_bytes), name, conv)
        except FileRefused as exc:
            reply = self.templates.render(language, exc.code, **policy.describe())
            await self.keep_unread(conv, text, msg_id, reply)
            return
        except ApiError as exc:
            log.warning("%s file for %s not downloaded: %s", self.title, conv, exc)
            await self.keep_unread(
                conv, text, msg_id, self.templates.render(language, "file_failed")
            )
            return
        inbound = Inbound(conv, self.channel, text, caption, msg_id, attachment=attachment.public())
        await self.router.accept(inbound)

    async def keep_unread(self, conv: str, text: str, msg_id: str, reply: str) -> None:
        inbound = Inbound(conv, self.channel, text, client_msg_id=msg_id)
        await self.router.keep_unread(inbound, reply)

    # -- outbound ---------------------------------------------------------------------------

    @abstractmethod
    async def send(self, user: str, outgoing: Outgoing) -> None:
        """Put one message on the platform (ApiError when it failed for good)."""

    @abstractmethod
    async def show_typing(self, user: str, active: bool) -> None:
        """Show or clear the platform's typing indicator (ApiError when it failed)."""

    async def deliver(self, conversation_id: str, entry: Mapping[str, Any]) -> None:
        """Send one transcript entry; on final failure log it (the transcript keeps it)."""
        try:
            outgoing = await self.outgoing(conversation_id, entry)
            await self.send(self.user_of(conversation_id), outgoing)
        except (ApiError, StoreUnavailable) as exc:
            log.error(
                "message %s to %s not delivered (kept in the transcript): %s",
                entry.get("seq"),
                conversation_id,
                exc,
            )

    async def outgoing(self, conversation_id: str, entry: Mapping[str, Any]) -> Outgoing:
        """The entry's text (signed by the agent; split to the platform's limit), its quick
        replies (under a "choose one" text when the entry has none) and its image."""
        text = str(entry.get("text") or "")
        if text and entry.get("role") == "agent" and entry.get("sender_name"):
            text = f"{entry['sender_name']}: {text}"
        replies = tuple(
            QuickReply(str(q["title"]), str(q["payload"] or q["title"]))
            for q in entry.get("quick_replies") or []
        )
        if replies and not text:  # the platforms show buttons only under a text
            meta = await self.store.get_conversation(conversation_id)
            language = meta.get("language", self.templates.default_language)
            text = self.templates.render(language, "choose_option")
        parts = tuple(split_text(text, self.max_text)) if text else ()
        image = str(entry["image"]) if entry.get("image") else None
        attachment = entry.get("attachment")
        file = None
        if isinstance(attachment, Mapping) and self.files is not None:
            file = await self.files.get(attachment.get("id"))
        return Outgoing(parts, replies, image, file)

    async def typing(
        self, conversation_id: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        try:
            await self.show_typing(self.user_of(conversation_id), active)
        except ApiError as exc:
            log.warning("typing indicator for %s: %s", conversation_id, exc)

    async def event(self, conversation_id: str, name: str, data: Mapping[str, Any]) -> None:
        """Of the widget's extra events only an agent typing means something here; the
        others (agent joined, queue status, …) also arrive as text messages."""
        if name == "agent_typing":
            await self.typing(conversation_id, bool(data.get("typing")), 0)

    async def close(self) -> None:
        """Finish the background work already started."""
        await self.tasks.finish()
