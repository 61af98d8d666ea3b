"""Persistence behind one small interface; Redis is the one implementation."""

from frontdesk.store.base import AppendResult, Store
from frontdesk.store.redis import RedisStore

__all__ = ["AppendResult", "RedisStore", "Store"]
