"""The 24-hour customer-service window: when each WhatsApp customer last wrote, in Redis (so
every gateway process agrees), and the id of that message (for the typing indicator).

Meta delivers free-form messages only until 24 hours after the customer's last message; a
reply later must be an approved template. The window here closes a minute early (MARGIN), so a
message sent in the last seconds is not refused on arrival."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from frontdesk.errors import StoreUnavailable

WINDOW = 24 * 3600.0
MARGIN = 60.0
KEEP = 8 * 24 * 3600  # seconds a record is kept: past the window and Meta's 7 days of retries

# Only a later message moves the window: webhooks may arrive out of order, or again.
_SEEN = """
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
if tonumber(ARGV[1]) > at then
  redis.call('HSET', KEYS[1], 'at', ARGV[1], 'message', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class LastMessage:
    at: float  # when the customer last wrote; 0 when never (or longer ago than we keep)
    message_id: str

    def open(self, now: float) -> bool:
        return now < self.at + WINDOW - MARGIN


class CustomerWindows:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._seen = redis.register_script(_SEEN)

    async def seen(self, wa_id: str, at: float, message_id: str) -> None:
        try:
            await self._seen(keys=[_key(wa_id)], args=[f"{at:.3f}", message_id, KEEP])
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"could not note a WhatsApp customer's message: {exc}") from exc

    async def last(self, wa_id: str) -> LastMessage:
        try:
            raw = await self._redis.hgetall(_key(wa_id))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"could not read a WhatsApp customer's window: {exc}") from exc
        fields = {_text(k): _text(v) for k, v in raw.items()}
        try:
            at = float(fields.get("at") or 0)
        except ValueError:
            at = 0.0
        return LastMessage(at, fields.get("message", ""))


def _key(wa_id: str) -> str:
    return f"fd:wa:window:{wa_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
