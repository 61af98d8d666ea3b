"""What the bot understood from a turn, read from Rasa's tracker, kept for the agent's case card."""

from __future__ import annotations

import json
from typing import Any

from frontdesk.core.conversation import AREAS

CAPTURED_SLOTS = ("order_number", "email", "product")


def understanding(tracker: dict[str, Any]) -> dict[str, str]:
    """Conversation fields from a tracker: the last intent and, for FAQ questions, the area,
    the full retrieval intent (area/question) with its confidence, and the captured slots."""
    latest = tracker.get("latest_message") or {}
    intent = latest.get("intent") or {}
    name = str(intent.get("name") or "")
    confidence = float(intent.get("confidence") or 0.0)
    fields = {"last_intent": name, "last_confidence": f"{confidence:.3f}"}
    if name in AREAS:
        full = name
        selector = latest.get("response_selector") or {}
        chosen = selector.get(name) or selector.get("default") or {}
        response = chosen.get("response") or {}
        key = str(response.get("intent_response_key") or "")
        if key.startswith(name + "/"):
            full = key
        answer_confidence = float(response.get("confidence") or 0.0)
        # The response selector may pick an answer from another area than the intent's:
        # then the bot is confused whatever its intent confidence says.
        fields["answer_matches"] = "1" if key.startswith(name + "/") else "0"
        fields["answer_confidence"] = f"{answer_confidence:.3f}"
        fields.update(
            area=name,
            intent=full,
            confidence=f"{min(confidence, float(response.get('confidence') or 1.0)):.3f}",
        )
    captured = captured_values(tracker)
    if captured:
        fields["captured"] = json.dumps(captured, ensure_ascii=False)
    return fields


def guesses(parse: dict[str, Any]) -> list[tuple[str, float]]:
    """The FAQ answers the bot weighed for a message (area/question, confidence), best first,
    from the response selector's rankings of every area."""
    found: dict[str, float] = {}
    for area, chosen in (parse.get("response_selector") or {}).items():
        if area not in AREAS or not isinstance(chosen, dict):
            continue
        for item in chosen.get("ranking") or []:
            key = str(item.get("intent_response_key") or "")
            if key.startswith(area + "/"):
                found[key] = max(found.get(key, 0.0), float(item.get("confidence") or 0.0))
    return sorted(found.items(), key=lambda kv: kv[1], reverse=True)


def captured_values(tracker: dict[str, Any]) -> dict[str, str]:
    """Slots and entities worth passing on (order number, e-mail, product)."""
    values: dict[str, str] = {}
    slots = tracker.get("slots") or {}
    for name in CAPTURED_SLOTS:
        value = slots.get(name)
        if isinstance(value, str | int) and str(value):
            values[name] = str(value)
    for entity in (tracker.get("latest_message") or {}).get("entities") or []:
        name, value = entity.get("entity"), entity.get("value")
        if name in CAPTURED_SLOTS and value and name not in values:
            values[str(name)] = str(value)
    return values
