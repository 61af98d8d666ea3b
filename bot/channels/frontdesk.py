"""frontdesk's REST channel for Rasa: the bot's answer and what the bot understood, in one call.

The gateway needs, for every turn, the answer and what the bot understood (intent and
confidence, the chosen FAQ answer and its confidence, entities) so it can refuse a confident
wrong answer and brief the agent. Rasa's REST channel returns only the answer, which would cost
a second request for the tracker on every turn. This channel parses the message once, gives the
parse to Rasa's processor (which then skips its own NLU) and returns both.

POST /webhooks/frontdesk/webhook  {"sender", "message", "metadata"?: {"language"?: en|ru|es}}
  -> {"messages": [...REST channel messages...], "understood": {intent, entities,
      response_selector}}
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse


LANGUAGES = ("en", "ru", "es")


class FrontdeskInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "frontdesk"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webhook = Blueprint("frontdesk_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender, text = body.get("sender"), body.get("message")
            metadata = body.get("metadata")
            if not isinstance(sender, str) or not sender or not isinstance(text, str):
                return response.json(
                    {"error": "`sender` and `message` must be non-empty text"}, status=400
                )
            processor = request.app.ctx.agent.processor
            if processor is None:
                return response.json({"error": "no model is loaded"}, status=503)
            parse: Dict[Text, Any] = await processor.parse_message(
                UserMessage(text, sender_id=sender, metadata=metadata)
            )
            language = metadata.get("language") if isinstance(metadata, dict) else None
            if language in LANGUAGES:
                # The gateway knows the customer's language; as an entity it fills the
                # `language` slot, and every response picks its variation by that slot.
                entity = {"entity": "language", "value": language, "start": 0, "end": 0}
                parse["entities"] = [*(parse.get("entities") or []), entity]
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    sender,
                    parse_data=parse,
                    input_channel=self.name(),
                    metadata=metadata,
                )
            )
            understood = {
                "intent": parse.get("intent"),
                "entities": parse.get("entities"),
                "response_selector": parse.get("response_selector"),
            }
            return response.json({"messages": collector.messages, "understood": understood})

        return webhook
