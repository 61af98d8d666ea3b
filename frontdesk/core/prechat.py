"""The optional pre-chat form (flows/prechat.yml): the customer's name and e-mail.

The widget shows it before the first message and/or when a person is asked for (a
`prechat_request` event on CaseQueued; the handoff never waits for it). The answers become the
conversation's details (customer_name, customer_email), and the open case's too, so the agent's
card shows them and a left message is answered by e-mail without asking again."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frontdesk.core.conversation import Conversation, Conversations, State
from frontdesk.core.events import CaseQueued, CaseUpdated, EventBus
from frontdesk.core.flows import _yaml
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.errors import BadInput, ConfigError
from frontdesk.store.base import CaseStore

FIELDS = {"name": "customer_name", "email": "customer_email"}
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
MAX_NAME = 200
MAX_EMAIL = 254
WIDGET = "widget"


@dataclass(frozen=True)
class PrechatConfig:
    enabled: bool = False
    before_first_message: bool = True
    before_handoff: bool = True
    fields: tuple[str, ...] = ("name", "email")
    required: tuple[str, ...] = ()


def load_prechat(flows_dir: Path) -> PrechatConfig:
    path = flows_dir / "prechat.yml"
    data = _yaml(path)
    fields = tuple(str(f) for f in data.get("fields") or ("name", "email"))
    required = tuple(str(f) for f in data.get("required") or ())
    unknown = [f for f in (*fields, *required) if f not in FIELDS]
    if unknown or not set(required) <= set(fields):
        raise ConfigError(
            f"{path}: fields and required may list name and email (required ⊆ fields)"
        )
    return PrechatConfig(
        enabled=bool(data.get("enabled", False)),
        before_first_message=bool(data.get("before_first_message", True)),
        before_handoff=bool(data.get("before_handoff", True)),
        fields=fields,
        required=required,
    )


class Prechat:
    def __init__(
        self,
        config: PrechatConfig,
        conversations: Conversations,
        cases: CaseStore,
        outbox: Outbox,
        templates: Templates,
    ) -> None:
        self.config = config
        self.conversations = conversations
        self.cases = cases
        self.outbox = outbox
        self.templates = templates

    def subscribe(self, bus: EventBus) -> None:
        if self.config.enabled and self.config.before_handoff:
            bus.subscribe(CaseQueued, self._queued)

    def missing(self, conversation: Conversation) -> bool:
        return any(not conversation.details.get(FIELDS[f]) for f in self.config.fields)

    def form(self, language: str, conversation: Conversation) -> dict[str, Any]:
        """The form as the widget shows it, in the conversation's language."""

        def say(key: str) -> str:
            return self.templates.render(language, key)

        return {
            "fields": [
                {
                    "name": f,
                    "label": say(f"prechat_{f}"),
                    "required": f in self.config.required,
                    "value": conversation.details.get(FIELDS[f], ""),
                }
                for f in self.config.fields
            ],
            "intro": say("prechat_intro"),
            "submit": say("prechat_submit"),
            "skip": say("prechat_skip") if not self.config.required else "",
            "required_text": say("prechat_required"),
        }

    def widget_config(self, conversation: Conversation) -> dict[str, Any] | None:
        """widget_config.prechat: the form, and whether to show it before the first message."""
        if not self.config.enabled:
            return None
        return {
            **self.form(conversation.language, conversation),
            "before_first_message": self.config.before_first_message and self.missing(conversation),
            "before_handoff": self.config.before_handoff,
        }

    async def _queued(self, event: CaseQueued) -> None:
        conversation = await self.conversations.get(event.conversation_id)
        if conversation.channel != WIDGET or not self.missing(conversation):
            return
        form = self.form(conversation.language, conversation)
        await self.outbox.event(conversation.id, conversation.channel, "prechat_request", form)

    async def submit(self, conversation_id: str, answers: Mapping[str, Any]) -> dict[str, str]:
        """Keep the answers (BadInput with a message in the customer's language if not)."""
        conversation = await self.conversations.get(conversation_id)
        language = conversation.language
        details: dict[str, str] = {}
        for name in self.config.fields:
            value = answers.get(name)
            value = value.strip() if isinstance(value, str) else ""
            if not value:
                if name in self.config.required:
                    raise BadInput(
                        "prechat_required", self.templates.render(language, "prechat_required")
                    )
                continue
            if name == "email" and (len(value) > MAX_EMAIL or not EMAIL.match(value)):
                raise BadInput(
                    "prechat_bad_email", self.templates.render(language, "prechat_bad_email")
                )
            details[FIELDS[name]] = value[:MAX_NAME]
        if not details:
            return {}
        await self.conversations.store.update_conversation(conversation_id, details)
        if conversation.case_id and conversation.state in (State.QUEUED, State.AGENT):
            case = await self.cases.get(conversation.case_id)
            if case:
                await self.cases.update(conversation.case_id, details)
                agent = case.get("agent", "") if case.get("state") == "agent" else ""
                await self.conversations.bus.publish(
                    CaseUpdated(conversation.case_id, conversation_id, agent)
                )
        return details
