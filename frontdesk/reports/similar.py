"""Grouping customer messages by similar wording, for the "could not answer" list.

Deliberately simple and explainable: a message's *key words* are its words of three or more
letters, lower-cased, without the commonest function words of English, Spanish and Russian,
each cut to its first five letters (a crude stem: "invoices"/"invoice"; Russian yo is read as ye).
Two messages are alike when their key words overlap enough (Jaccard >= THRESHOLD, or they share
at least two key words and half of the shorter's). Groups form greedily, newest message first:
a message joins the first group whose first message it is like, else starts a new group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

THRESHOLD = 0.5
STEM = 5
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOPWORDS = """
    the and for you your are was were with this that have has had can could would should will
    how what when where which who why not but any all our out get got does did its it's from
    about there their them they then than into just also very please thanks thank hello
    hi hey want need like know one some more much too yes
    los las que por para con una uno unos unas del como pero mas más sus ese esta este estoy
    tengo quiero puedo hola gracias cuando donde dónde qué cómo muy mis hay sin sobre
    это как что где когда мне мой моя мои вам вас нас для или уже еще ещё есть нет так тут
    там вот был была было были меня все всё чтобы если почему можно нужно хочу здравствуйте
    привет спасибо пожалуйста
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def key_words(text: str) -> frozenset[str]:
    words = _WORD.findall(text.lower().replace("\u0451", "\u0435"))
    return frozenset(w[:STEM] for w in words if w not in STOPWORDS)


def alike(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return a == b
    shared = len(a & b)
    if shared / len(a | b) >= THRESHOLD:
        return True
    return shared >= 2 and shared / min(len(a), len(b)) >= 0.5


def group(items: Sequence[T], text_of: Callable[[T], str]) -> list[list[T]]:
    """Items in groups of similar wording, in the order given (pass the newest first)."""
    groups: list[tuple[frozenset[str], list[T]]] = []
    for item in items:
        words = key_words(text_of(item))
        for first_words, members in groups:
            if alike(words, first_words):
                members.append(item)
                break
        else:
            groups.append((words, [item]))
    return [members for _, members in groups]
