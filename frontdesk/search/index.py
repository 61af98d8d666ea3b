"""The search index of one machine: an SQLite file with an FTS5 table, in DATA_DIR.

One row per conversation. `body` holds the index terms (text.py) of what the customer and the
agents wrote (the customer's messages, the agents' replies, a left message, survey comments);
the bot's and the gateway's own lines are left out — every conversation about refunds carries
the same FAQ answer, which would drown the customer's own words. `ids` holds what is looked up
as written: the conversation id, case ids, e-mail addresses, order numbers, the customer's
name. `facets` holds the filters as tokens (text.facet), so a filter is one more term in the
same FTS5 query rather than a scan. `docs` keeps what a result shows (channel, language,
areas, agents, state, dates, and the messages for the snippet).

A document's rowid is its last activity in milliseconds: rowid order is "active most
recently", after any rebuild too, and results come newest first with `ORDER BY rowid DESC
LIMIT n`, which FTS5 answers by walking its lists from the end and stopping at n — a word
found in half of 100,000 conversations costs no more than a rare one (bench/search.py).
Writes are one transaction per batch (WAL mode: readers in the other gateway processes of the
machine never wait for them).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frontdesk.search.text import facet, fold, strip_accents, terms

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
  rowid INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL UNIQUE,
  channel TEXT, language TEXT, state TEXT, areas TEXT, agents TEXT, case_ids TEXT,
  customer TEXT, started REAL, last REAL, messages TEXT
);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
  body, ids, facets, tokenize = 'unicode61 remove_diacritics 0', prefix = '3'
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""
BUSY_MS = 10_000


@dataclass(frozen=True)
class Message:
    seq: int
    ts: float
    role: str  # customer | agent
    text: str


@dataclass
class Doc:
    """One conversation as the index keeps it."""

    conversation_id: str
    channel: str = ""
    language: str = ""
    state: str = ""  # the conversation's: bot, queued, agent, survey, leave_message…
    areas: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    case_ids: list[str] = field(default_factory=list)
    customer: str = ""  # name or e-mail, as shown
    started: float = 0.0
    last: float = 0.0
    messages: list[Message] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # e-mails, order numbers, names

    def body(self) -> str:
        return " ".join(" ".join(terms(m.text, self.language)) for m in self.messages)

    def ids(self) -> str:
        raw = [self.conversation_id, *self.case_ids, *self.identifiers]
        return strip_accents(fold(" ".join(raw)))

    def facets(self) -> str:
        tokens = [facet("channel", self.channel), facet("language", self.language)]
        tokens.append(facet("state", self.state))
        tokens += [facet("area", a) for a in self.areas]
        tokens += [facet("agent", a) for a in self.agents]
        return " ".join(tokens)


@dataclass(frozen=True)
class Hit:
    conversation_id: str
    channel: str
    language: str
    state: str
    areas: list[str]
    agents: list[str]
    case_ids: list[str]
    customer: str
    started: float
    last: float
    messages: list[Message]


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the index file (created with its tables unless `readonly`)."""
    if readonly:
        db = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=BUSY_MS / 1000, check_same_thread=False
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            path, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
    return db


class Index:
    """Writes (the indexer's connection). Its methods run in worker threads one at a time, under
    a lock that `close` takes too: a task cancelled while a worker thread still writes (at
    shutdown) must not close the connection under it (sqlite3 then crashes the process)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._lock = threading.Lock()

    def close(self) -> None:
        """After the write in progress, if any."""
        with self._lock:
            self.db.close()

    def get_meta(self, name: str) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def apply(
        self,
        docs: Sequence[Doc],
        gone: Iterable[str] = (),
        meta: dict[str, str] | None = None,
        clear: bool = False,
    ) -> None:
        """In one transaction: (everything removed first if `clear`), `gone` removed, `docs`
        written anew (newest rowids), `meta` set."""
        with self._lock:
            self._apply(docs, gone, meta or {}, clear)

    def _apply(
        self, docs: Sequence[Doc], gone: Iterable[str], meta: dict[str, str], clear: bool
    ) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if clear:
                db.execute("DELETE FROM docs")
                db.execute("DELETE FROM fts")
            for conversation_id in [*gone, *(d.conversation_id for d in docs)]:
                self._remove(conversation_id)
            for doc in docs:
                self._insert(doc)
            for name, value in meta.items():
                db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _remove(self, conversation_id: str) -> None:
        row = self.db.execute(
            "SELECT rowid FROM docs WHERE conversation_id = ?", (conversation_id,)
        ).fetchone()
        if row is not None:
            self.db.execute("DELETE FROM fts WHERE rowid = ?", (row[0],))
            self.db.execute("DELETE FROM docs WHERE rowid = ?", (row[0],))

    def _insert(self, doc: Doc) -> None:
        messages = [[m.seq, m.ts, m.role, m.text] for m in doc.messages]
        rowid = max(int(doc.last * 1000), 1)  # rowid order is last-activity order
        while self.db.execute("SELECT 1 FROM docs WHERE rowid = ?", (rowid,)).fetchone():
            rowid += 1
        self.db.execute(
            "INSERT INTO docs (rowid, conversation_id, channel, language, state, areas, agents, "
            "case_ids, customer, started, last, messages) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rowid,
                doc.conversation_id,
                doc.channel,
                doc.language,
                doc.state,
                json.dumps(doc.areas),
                json.dumps(doc.agents),
                json.dumps(doc.case_ids),
                doc.customer,
                doc.started,
                doc.last,
                json.dumps(messages, ensure_ascii=False),
            ),
        )
        self.db.execute(
            "INSERT INTO fts (rowid, body, ids, facets) VALUES (?, ?, ?, ?)",
            (rowid, doc.body(), doc.ids(), doc.facets()),
        )

    def count(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT count(*) FROM docs").fetchone()[0])

    def has(self, conversation_id: str) -> bool:
        with self._lock:
            row = self.db.execute(
                "SELECT 1 FROM docs WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
        return row is not None


def _hit(row: Sequence[Any]) -> Hit:
    return Hit(
        conversation_id=row[0],
        channel=row[1] or "",
        language=row[2] or "",
        state=row[3] or "",
        areas=json.loads(row[4] or "[]"),
        agents=json.loads(row[5] or "[]"),
        case_ids=json.loads(row[6] or "[]"),
        customer=row[7] or "",
        started=float(row[8] or 0),
        last=float(row[9] or 0),
        messages=[Message(int(s), float(t), str(r), str(x)) for s, t, r, x in json.loads(row[10])],
    )


COLUMNS = (
    "d.conversation_id, d.channel, d.language, d.state, d.areas, d.agents, d.case_ids, "
    "d.customer, d.started, d.last, d.messages"
)


def search(
    db: sqlite3.Connection,
    expression: str,
    since: float | None,
    until: float | None,
    limit: int,
    offset: int = 0,
) -> tuple[list[Hit], bool]:
    """Conversations matching the FTS5 expression (which carries the filters as facets),
    active between `since` and `until`, newest change first; and whether there are more."""
    dates, args = "", list[Any]([expression])
    if since is not None:
        dates += " AND d.last >= ?"
        args.append(since)
    if until is not None:
        dates += " AND d.started < ?"
        args.append(until)
    sql = (
        f"SELECT {COLUMNS} FROM fts JOIN docs d ON d.rowid = fts.rowid "
        f"WHERE fts MATCH ?{dates} ORDER BY fts.rowid DESC LIMIT ? OFFSET ?"
    )
    rows = db.execute(sql, (*args, limit + 1, offset)).fetchall()
    return [_hit(r) for r in rows[:limit]], len(rows) > limit


def recent(
    db: sqlite3.Connection, since: float | None, until: float | None, limit: int
) -> list[Hit]:
    """Without words or filters: the conversations changed most recently."""
    where, args = "WHERE 1", list[Any]()
    if since is not None:
        where += " AND d.last >= ?"
        args.append(since)
    if until is not None:
        where += " AND d.started < ?"
        args.append(until)
    sql = f"SELECT {COLUMNS} FROM docs d {where} ORDER BY d.rowid DESC LIMIT ?"
    return [_hit(r) for r in db.execute(sql, (*args, limit)).fetchall()]
