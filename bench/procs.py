"""Start-up helpers the benchmarks share with the tests (defined once, in tests/startup.py).

A bench runs as `.venv/bin/python bench/<name>.py`, with bench/ on sys.path but not the
repository root, which this module adds (at the end) so that `tests` can be imported."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.startup import redis_answers, wait_until  # noqa: E402

__all__ = ["redis_answers", "wait_until"]
