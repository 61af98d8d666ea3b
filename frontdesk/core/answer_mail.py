"""The e-mail answering a left message: the agent's answer, an invitation to come back, the
one-click satisfaction question, and the customer's own message quoted below.

The words come from flows/messages/<language>.yml (mail_* keys); plain text and HTML carry the
same content. Headers (From, Reply-To, Message-ID…) are the sender's (frontdesk.mail)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from frontdesk.core.feedback import SCORES
from frontdesk.core.templates import Templates


@dataclass(frozen=True)
class AnswerMail:
    subject: str
    text: str
    html: str


def quote(message: str) -> str:
    """The customer's message as an e-mail quote ("> " before every line)."""
    return "\n".join(f"> {line}".rstrip() for line in message.strip().splitlines() or [""])


def compose(
    templates: Templates,
    language: str,
    zone: ZoneInfo,
    answer: str,
    agent_name: str,
    message: str,
    left_at: float,
    link: Callable[[int], str],
) -> AnswerMail:
    def say(key: str, **context: str) -> str:
        return templates.render(language, key, **context)

    moment = dt.datetime.fromtimestamp(left_at, zone)
    when = moment.strftime(say("mail_date_format"))
    scores = [(n, link(n), _score_label(say, n)) for n in SCORES]
    text_scores = "\n".join(
        f"{n}{' - ' + label if label else ''}: {url}" for n, url, label in scores
    )
    text = "\n\n".join(
        [
            answer.strip(),
            agent_name,
            say("mail_come_back"),
            f"{say('mail_rate_question')}\n{text_scores}",
            f"{say('mail_you_wrote', when=when)}\n{quote(message)}",
        ]
    )
    return AnswerMail(
        subject=say("mail_subject"),
        text=text + "\n",
        html=_html(say, answer, agent_name, message, when, scores),
    )


def _score_label(say: Callable[..., str], score: int) -> str:
    if score == SCORES[0]:
        return say("mail_rate_low")
    if score == SCORES[-1]:
        return say("mail_rate_high")
    return ""


def _paragraphs(text: str) -> str:
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in b.strip().splitlines()) + "</p>"
        for b in blocks
    )


def _html(
    say: Callable[..., str],
    answer: str,
    agent_name: str,
    message: str,
    when: str,
    scores: list[tuple[int, str, str]],
) -> str:
    e = html.escape
    button = (
        'style="display:inline-block;min-width:2em;margin:0 .3em .3em 0;padding:.35em .6em;'
        "border:1px solid #8a8f98;border-radius:4px;color:#1f2328;text-decoration:none;"
        'text-align:center"'
    )
    links = "".join(f'<a href="{e(url)}" {button}>{n}</a>' for n, url, _ in scores)
    low, high = scores[0][2], scores[-1][2]
    legend = f"<br><small>1 = {e(low)} · {len(scores)} = {e(high)}</small>" if low else ""
    quoted = "<br>".join(e(line) for line in message.strip().splitlines())
    return (
        '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5;color:#1f2328">'
        f"{_paragraphs(answer)}"
        f"<p>{e(agent_name)}</p>"
        f"<p>{e(say('mail_come_back'))}</p>"
        f"<p>{e(say('mail_rate_question'))}<br>{links}{legend}</p>"
        f"<p>{e(say('mail_you_wrote', when=when))}</p>"
        '<blockquote style="margin:0 0 0 .8em;padding-left:.8em;border-left:3px solid #c8ccd2;'
        f'color:#57606a">{quoted}</blockquote>'
        "</body></html>"
    )
