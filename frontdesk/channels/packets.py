"""Socket.IO input that no event handler can take, answered instead of raised.

python-socketio hands a namespace whatever a client sends: an event name that is not text or
that no handler has, extra arguments; and its packet class raises on a packet that is not JSON,
is nested deeper than the JSON decoder goes, is not a list `[name, data]`, is empty, or is a
binary frame that belongs to no packet, which the server logs with a traceback and answers with
nothing. Here:

- `SafePacket` (the server's packet class) turns such a packet into an event named BAD_PACKET,
  keeping its namespace and ack id, so the namespace answers it like any other bad event;
- an event packet longer than the server reads (`SafePacket.sized(limit)`: the limit from
  MAX_MESSAGE_LENGTH, frontdesk.channels.guard.packet_limit) is not parsed at all: it becomes
  the event OVERSIZED `{event, length, limit}` with its ack id, which the widget answers
  `message_too_long` in the customer's language (and any other namespace in English), and the
  connection stays;
- `refusal()` tells a namespace's `trigger_event` which events no handler takes, and why; the
  namespace answers those with an error ack `{ok: false, error: {code, message}}`.

Packets are read and written with orjson (`FastJson`: about five times faster than the standard
library's json, which is the fallback for what orjson will not encode, such as an integer past
64 bits). And a packet the server sends is JSON-encoded once: python-socketio walks the data
in Python to look for bytes (`data_is_binary`, a call per value), then encodes it.
`SafePacket` encodes it first (in C): data that encodes holds no bytes (JSON cannot hold
them), so the walk is skipped and `encode()` reuses the text; data that does not encode
(bytes) takes the library's way.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from socketio import packet

BAD_PACKET = "frontdesk:bad_packet"  # no handler has this name (":" is in no method name)
OVERSIZED = "frontdesk_oversized"  # the widget's handler: on_frontdesk_oversized
LIFECYCLE = ("connect", "disconnect")
_FROM_CLIENTS = (
    packet.CONNECT,
    packet.DISCONNECT,
    packet.EVENT,
    packet.ACK,
    packet.BINARY_EVENT,
    packet.BINARY_ACK,
)
_HEAD = 200  # characters of an oversized packet looked at: type, namespace, ack id, name
_EVENT_NAME = re.compile(r'\[\s*"([A-Za-z0-9_]{1,64})"')


class FastJson:
    """The `json` of the packet class: orjson, with the standard library as the fallback."""

    @staticmethod
    def dumps(data: Any, **options: Any) -> str:
        try:
            return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # orjson.JSONEncodeError: e.g. bytes, or an int past 64 bits
            return json.dumps(data, **options)

    @staticmethod
    def loads(text: str | bytes) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:  # e.g. a lone surrogate ("\\udc00"), which json reads
            return json.loads(text)


class SafePacket(packet.Packet):  # type: ignore[misc]
    """A packet a client could not have meant becomes a BAD_PACKET event; one too long to read
    an OVERSIZED event."""

    json = FastJson

    max_chars = 0  # longest packet parsed; 0: no limit (see sized())
    data: Any
    _json: str | None = None  # the data, encoded when the packet was made (see the module)

    @classmethod
    def sized(cls, max_chars: int) -> type[SafePacket]:
        """The packet class of a server that parses packets of at most `max_chars`."""
        return type(cls.__name__, (cls,), {"max_chars": max_chars})

    def __init__(
        self,
        packet_type: int = packet.EVENT,
        data: Any = None,
        namespace: str | None = None,
        id: int | None = None,
        binary: bool | None = None,
        encoded_packet: Any = None,
    ) -> None:
        if encoded_packet is None and binary is None and data is not None:
            try:
                self._json = self.json.dumps(data, separators=(",", ":"))
                binary = False
            except TypeError:  # bytes in it: the library finds and sends them as attachments
                pass
        super().__init__(packet_type, data, namespace, id, binary, encoded_packet)
        if encoded_packet is not None and not encoded_packet:  # "" or b"": never decoded
            self._unreadable("an empty packet")

    def encode(self) -> Any:
        if self._json is None or self.packet_type not in (packet.EVENT, packet.ACK):
            return super().encode()
        head = str(self.packet_type)
        if self.namespace is not None and self.namespace != "/":
            head += self.namespace + ","
        if self.id is not None:
            head += str(self.id)
        return head + self._json

    def decode(self, encoded_packet: Any) -> int:
        if not isinstance(encoded_packet, str):  # a binary frame no packet announced
            self.namespace = self.id = None
            return self._unreadable("a binary frame that belongs to no packet")
        if self.max_chars and len(encoded_packet) > self.max_chars:
            return self._oversized(encoded_packet)
        try:
            attachments = int(super().decode(encoded_packet) or 0)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            return self._unreadable(f"the packet is not Socket.IO JSON ({type(exc).__name__})")
        if self.packet_type not in _FROM_CLIENTS:
            return self._unreadable("a client cannot send this packet type")
        events = (packet.EVENT, packet.BINARY_EVENT)
        if self.packet_type in events and not (isinstance(self.data, list) and self.data):
            return self._unreadable("an event is a list: [name, data]")
        return attachments

    def add_attachment(self, attachment: Any) -> bool:
        try:
            return bool(super().add_attachment(attachment))
        except (IndexError, KeyError, TypeError, RecursionError):  # placeholders that do not fit
            self.data = [BAD_PACKET, "binary attachments do not match the packet"]
            if self.packet_type == packet.BINARY_ACK:
                self.data = []
            return True

    def _unreadable(self, reason: str) -> int:
        self.packet_type = packet.EVENT
        self.data = [BAD_PACKET, reason]
        return 0

    def _oversized(self, encoded_packet: str) -> int:
        """Only the head is read: the packet's type, namespace, ack id and event name."""
        start = encoded_packet.find("[", 0, _HEAD)
        too_long = f"the packet is longer than {self.max_chars} characters"
        if start < 1:
            self.namespace = self.id = None
            return self._unreadable(too_long)
        try:
            super().decode(encoded_packet[:start])
        except (ValueError, TypeError):
            self.namespace = self.id = None
            return self._unreadable(too_long)
        if self.packet_type not in (packet.EVENT, packet.BINARY_EVENT):
            return self._unreadable(too_long)
        name = _EVENT_NAME.match(encoded_packet, start, start + _HEAD)
        details: dict[str, Any] = {
            "event": name.group(1) if name else None,
            "length": len(encoded_packet),
            "limit": self.max_chars,
        }
        self.packet_type = packet.EVENT
        self.data = [OVERSIZED, details]
        return 0


def refusal(namespace: Any, event: Any, args: tuple[Any, ...]) -> tuple[str, str] | None:
    """(code, message) for an event no handler of `namespace` takes; None for one that is
    handled. python-socketio also calls trigger_event for a connection starting or ending
    ("connect", "disconnect"), while the client is not (or no longer) connected; a connected
    client that sends an event of one of those names is refused, like any unknown name."""
    if event in LIFECYCLE:
        sid = args[0] if args else None
        if namespace.server.manager.is_connected(sid, namespace.namespace):
            return "bad_request", f"{event!r} is a reserved event name"
        return None
    if event == BAD_PACKET:
        reason = args[1] if len(args) == 2 else None
        return "bad_request", reason if isinstance(reason, str) else "unreadable packet"
    if event == OVERSIZED and not hasattr(namespace, f"on_{OVERSIZED}"):
        return "message_too_long", oversized_text(args[1] if len(args) == 2 else None)
    if not isinstance(event, str) or not hasattr(namespace, f"on_{event}"):
        return "unknown_event", "there is no such event"
    if len(args) > 2:  # the sid and one argument
        return "bad_request", f"{event} takes one argument"
    return None


def refused(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def oversized_text(details: Any) -> str:
    """For a namespace that is not the customer's (agents read English): what was refused."""
    if isinstance(details, dict) and isinstance(details.get("length"), int):
        return (
            f"The message is {details['length']} characters long, more than the "
            f"{details.get('limit')} this server reads; nothing was done with it."
        )
    return "The message is longer than this server reads; nothing was done with it."
