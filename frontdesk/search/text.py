"""Words into index terms, a query into an FTS5 expression, and a snippet with the words found.

The same function makes the terms of the index and of the query, so "заказа" finds "заказов",
"devoluciones" finds "devolución" and "refunds" finds "refunded": every word is lower-cased
(YO read as IE) and cut to its Snowball stem (PyStemmer: the Snowball project's own C
stemmers) — Cyrillic words with the Russian stemmer, Latin words with the Spanish one in a
Spanish conversation and the English one otherwise. A query word is looked up by both Latin
stems (the searching agent may not know the conversation's language) and as a prefix of its
stem (at least 3 letters), so a stem the two sides cut differently still meets, and a word
typed halfway finds the whole one. Numbers, e-mail addresses and ids are matched as written
(an address is the phrase of its parts: "ann@example.com" is "ann example com").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

WORD = re.compile(r"\w+", re.UNICODE)
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
MIN_PREFIX = 3  # shorter stems are matched whole, not as a prefix
MAX_QUERY_WORDS = 12


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


def fold(text: str) -> str:
    """Lower case, YO as IE; the accents stay (the Spanish stemmer reads them)."""
    return text.lower().replace("\u0451", "\u0435")


def strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str, language: str) -> str:
    """One word's index term (`word` already folded)."""
    if not LETTERS.search(word):
        return word  # numbers stay as written
    if CYRILLIC.search(word):
        return str(_stemmer("russian").stemWord(word))
    name = "spanish" if language == "es" else "english"
    return strip_accents(_stemmer(name).stemWord(word))


def terms(text: str, language: str) -> list[str]:
    """The index terms of a text, in order."""
    return [stem(w, language) for w in WORD.findall(fold(text))]


def stems_of(word: str) -> set[str]:
    """Every term a query word may have been indexed as (both Latin stemmers)."""
    word = fold(word)
    if CYRILLIC.search(word) or not LETTERS.search(word):
        return {stem(word, "ru")}
    return {stem(word, "en"), stem(word, "es")}


def facet(name: str, value: str) -> str:
    """A filter value as one index token (letters and digits only, whatever the value)."""
    digest = hashlib.blake2s(f"{name}={value}".encode(), digest_size=8).hexdigest()
    return f"f{digest}"


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _term(term: str) -> str:
    return _quoted(term) + ("*" if len(term) >= MIN_PREFIX and LETTERS.search(term) else "")


@dataclass(frozen=True)
class Query:
    expression: str  # the FTS5 MATCH expression ("" when the text has no words)
    stems: frozenset[str]  # what a snippet marks


def parse(text: str) -> Query:
    """The agent's words as an FTS5 expression: every word must match (in the words said, or
    among the conversation's identifiers); an address or id is a phrase of its parts."""
    parts: list[str] = []
    marked: set[str] = set()
    for token in text.split()[:MAX_QUERY_WORDS]:
        words = WORD.findall(fold(token))
        if not words:
            continue
        if len(words) > 1:  # ann@example.com, web:3f2a…, 10-42: as written, in order
            phrase = " ".join(strip_accents(w) for w in words)
            parts.append(f"({{body ids}} : {_quoted(phrase)})")
            marked.update(words)
            continue
        options = sorted(stems_of(words[0]))
        marked.update(options)
        raw = strip_accents(words[0])
        ors = " OR ".join([_term(s) for s in options] + [_quoted(raw)])
        parts.append(f"({{body ids}} : ({ors}))")
    return Query(" AND ".join(parts), frozenset(marked))


def restricted(query: Query, tokens: Iterable[str], column: str = "facets") -> str:
    """The query limited to documents having one of `tokens` in `column`."""
    ors = " OR ".join(_quoted(t) for t in tokens)
    scope = f"({column} : ({ors}))"
    return f"{query.expression} AND {scope}" if query.expression else scope


def is_hit(word: str, marked: frozenset[str], language: str) -> bool:
    folded = fold(word)
    term = stem(folded, language)
    for m in marked:
        if term == m or folded == m or strip_accents(folded) == m:
            return True
        if len(m) >= MIN_PREFIX and LETTERS.search(m) and term.startswith(m):
            return True
    return False


Segment = tuple[str, bool]  # text, whether it is a word found


def snippet(text: str, marked: frozenset[str], language: str, width: int = 14) -> list[Segment]:
    """About `width` words of `text` around its first word found, the words found marked; []
    if none is found."""
    spans = [(m.start(), m.end()) for m in WORD.finditer(text)]
    hits = [i for i, (a, b) in enumerate(spans) if is_hit(text[a:b], marked, language)]
    if not hits:
        return []
    first = max(0, hits[0] - width // 3)
    last = min(len(spans), first + width)
    start = spans[first][0]
    end = spans[last - 1][1]
    segments: list[Segment] = [("… ", False)] if first > 0 else []
    at = start
    for i in range(first, last):
        a, b = spans[i]
        if i in hits:
            if a > at:
                segments.append((text[at:a], False))
            segments.append((text[a:b], True))
            at = b
    if end > at:
        segments.append((text[at:end], False))
    if last < len(spans):
        segments.append((" …", False))
    return segments
