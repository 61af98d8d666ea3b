"""Prometheus metrics for operators: traffic, bot turns, handoffs, first responses, surveys."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from frontdesk.core.events import (
    AgentReplied,
    AnswerRated,
    CaseQueued,
    EventBus,
    MessageLeft,
    SurveyAnswered,
)

MINUTES = (15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400)


class Metrics:
    """One registry per app (no module-level state), exported at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "frontdesk_messages",
            "Messages stored, by channel and author",
            ["channel", "role"],
            registry=r,
        )
        self.bot_turn = Histogram(
            "frontdesk_bot_turn_seconds",
            "Time from a customer message to the bot's answer",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10),
            registry=r,
        )
        self.bot_failures = Counter(
            "frontdesk_bot_failures", "Bot turns that failed (Rasa down or slow)", registry=r
        )
        self.not_understood = Counter(
            "frontdesk_not_understood",
            "Turns the bot did not understand or was unsure of",
            registry=r,
        )
        self.handoffs = Counter(
            "frontdesk_handoffs", "Requests for a person, by reason", ["reason"], registry=r
        )
        self.messages_left = Counter(
            "frontdesk_messages_left", "Messages left while closed or offline", registry=r
        )
        self.waiting = Gauge(
            "frontdesk_queue_waiting", "Customers waiting for a person", registry=r
        )
        self.first_response = Histogram(
            "frontdesk_first_response_seconds",
            "From handoff request to the agent's first reply",
            buckets=MINUTES,
            registry=r,
        )
        self.survey = Counter(
            "frontdesk_survey_answers",
            "Survey answers, by question and score",
            ["question", "score"],
            registry=r,
        )

        self.answer_ratings = Counter(
            "frontdesk_answer_ratings",
            "'Did this answer your question?' ratings, by FAQ answer and rating",
            ["answer_id", "rating"],
            registry=r,
        )

    def export(self) -> bytes:
        return generate_latest(self.registry)


def count_events(bus: EventBus, metrics: Metrics) -> None:
    """Domain events that are also operators' metrics."""

    async def queued(event: CaseQueued) -> None:
        metrics.handoffs.labels(event.reason).inc()

    async def left(event: MessageLeft) -> None:
        metrics.messages_left.inc()

    async def replied(event: AgentReplied) -> None:
        if event.first_reply_seconds is not None:
            metrics.first_response.observe(event.first_reply_seconds)

    async def surveyed(event: SurveyAnswered) -> None:
        metrics.survey.labels(event.step, event.score).inc()

    async def rated(event: AnswerRated) -> None:
        metrics.answer_ratings.labels(event.answer_id, "yes" if event.helpful else "no").inc()

    bus.subscribe(CaseQueued, queued)
    bus.subscribe(MessageLeft, left)
    bus.subscribe(AgentReplied, replied)
    bus.subscribe(SurveyAnswered, surveyed)
    bus.subscribe(AnswerRated, rated)
